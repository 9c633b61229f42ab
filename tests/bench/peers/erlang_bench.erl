%% Peer benchmark: the Troupe workloads implemented on Erlang/OTP processes.
%%
%% Workloads (see tests/bench/PEERS.md):
%%   spawn     N idle processes; creation rate + VmRSS delta per process
%%   pingpong  2 processes, N round trips, every message carries a 64-byte binary
%%   fanin     2 sender processes x N messages each -> 1 counting process
%%
%% Output: only lines "RESULT <name> <value> <unit>" on stdout; diagnostics go
%% to stderr.
%%
%% Run (2 schedulers, room for 1M processes):
%%   erlc -o OUT erlang_bench.erl
%%   erl +S 2:2 +P 2000000 -noshell -pa OUT -run erlang_bench main \
%%       -extra [--quick] [--div D] [--pingpong N] [--fanin N-per-sender]
%%              [--spawn N] [--only spawn|pingpong|fanin]
-module(erlang_bench).
-export([main/0, main/1, idle/0]).

-define(PAYLOAD_BITS, 512). % 64 bytes

main() ->
    main(init:get_plain_arguments()).

main(Args) ->
    try
        run(parse_args(Args, #{divisor => 1}))
    of
        ok -> halt(0)
    catch
        Class:Reason:Stack ->
            io:format(standard_error, "erlang_bench failed: ~p:~p~n~p~n",
                      [Class, Reason, Stack]),
            halt(1)
    end.

parse_args([], Opts) -> Opts;
parse_args(["--quick" | T], Opts) -> parse_args(T, Opts#{divisor => 100});
parse_args(["--div", D | T], Opts) -> parse_args(T, Opts#{divisor => pos_int(D)});
parse_args(["--pingpong", N | T], Opts) ->
    parse_args(T, Opts#{pingpong => pos_int(N)});
parse_args(["--fanin", N | T], Opts) -> parse_args(T, Opts#{fanin => pos_int(N)});
parse_args(["--spawn", N | T], Opts) -> parse_args(T, Opts#{spawn => pos_int(N)});
parse_args(["--only", W | T], Opts)
  when W =:= "spawn"; W =:= "pingpong"; W =:= "fanin" ->
    parse_args(T, Opts#{only => W});
parse_args(Other, _) -> error({bad_arguments, Other}).

pos_int(S) ->
    case list_to_integer(S) of
        N when N > 0 -> N;
        _ -> error({not_positive, S})
    end.

count(Key, Full, #{divisor := Div} = Opts) ->
    case Opts of
        #{Key := N} -> N;
        _ -> max(1, Full div Div)
    end.

run(Opts) ->
    Schedulers = erlang:system_info(schedulers_online),
    Schedulers =:= 2 orelse error({expected_2_schedulers, Schedulers}),
    io:format(standard_error, "erlang: OTP ~s, ~b schedulers online~n",
              [erlang:system_info(otp_release), Schedulers]),
    Only = maps:get(only, Opts, all),
    %% spawn first, so that the RSS baseline is not polluted by memory the
    %% allocators kept from the other workloads (same order as caf_bench).
    (Only =:= all orelse Only =:= "spawn")
        andalso spawn_bench(count(spawn, 1000000, Opts)),
    (Only =:= all orelse Only =:= "pingpong")
        andalso pingpong_bench(count(pingpong, 2000000, Opts)),
    (Only =:= all orelse Only =:= "fanin")
        andalso fanin_bench(count(fanin, 2500000, Opts)),
    ok.

result(Name, Value, Unit) ->
    io:format("RESULT ~s ~.1f ~s~n", [Name, float(Value), Unit]).

now_s() ->
    erlang:monotonic_time(nanosecond) / 1.0e9.

%% -- pingpong ----------------------------------------------------------------

pingpong_bench(Rounds) ->
    Parent = self(),
    %% binary:copy makes a fresh (non-literal) 64-byte heap binary; it is
    %% copied into the receiver's heap on every send.
    Payload = binary:copy(<<0:?PAYLOAD_BITS>>),
    Pong = spawn(fun pong/0),
    T0 = now_s(),
    spawn(fun() -> ping(Pong, Payload, Rounds), Parent ! {ping_done, self()} end),
    receive {ping_done, _} -> ok end,
    Secs = now_s() - T0,
    Pong ! stop,
    io:format(standard_error, "erlang pingpong: ~b round trips in ~.3f s~n",
              [Rounds, Secs]),
    result("erlang_pingpong_rate", Rounds / Secs, "round_trips/s").

ping(_Pong, _Payload, 0) ->
    ok;
ping(Pong, Payload, N) ->
    Pong ! {ping, self(), Payload},
    receive
        {pong, Reply} -> ping(Pong, Reply, N - 1)
    end.

pong() ->
    receive
        {ping, From, Payload} ->
            From ! {pong, Payload},
            pong();
        stop ->
            ok
    end.

%% -- fanin -------------------------------------------------------------------

fanin_bench(PerSender) ->
    Total = 2 * PerSender,
    Parent = self(),
    Counter = spawn(fun() -> counter(Total, Parent) end),
    T0 = now_s(),
    spawn(fun() -> send_loop(Counter, PerSender) end),
    spawn(fun() -> send_loop(Counter, PerSender) end),
    receive {counted, Counter} -> ok end,
    Secs = now_s() - T0,
    io:format(standard_error, "erlang fanin: ~b messages in ~.3f s~n",
              [Total, Secs]),
    result("erlang_fanin_rate", Total / Secs, "msgs/s").

send_loop(_Counter, 0) ->
    ok;
send_loop(Counter, N) ->
    Counter ! 1,
    send_loop(Counter, N - 1).

counter(0, Parent) ->
    Parent ! {counted, self()};
counter(N, Parent) ->
    receive
        _ -> counter(N - 1, Parent)
    end.

%% -- spawn -------------------------------------------------------------------

%% An idle process: waits for a message that never comes (it is killed).
idle() ->
    receive
        stop -> ok
    end.

spawn_bench(N) ->
    erlang:garbage_collect(),
    Rss0 = vm_rss_bytes(),
    Mem0 = erlang:memory(total),
    T0 = now_s(),
    Pids = spawn_n(N, []),
    wait_run_queues_empty(), % every process has run and is now waiting
    Secs = now_s() - T0,
    Rss1 = vm_rss_bytes(),
    Mem1 = erlang:memory(total),
    lists:foreach(fun(P) -> exit(P, kill) end, Pids),
    io:format(standard_error,
              "erlang spawn: ~b processes in ~.3f s, VmRSS ~b -> ~b bytes, "
              "erlang:memory(total) delta ~.1f bytes/process~n",
              [N, Secs, Rss0, Rss1, (Mem1 - Mem0) / N]),
    result("erlang_spawn_rate", N / Secs, "actors/s"),
    result("erlang_spawn_memory", (Rss1 - Rss0) / N, "bytes/actor").

spawn_n(0, Acc) ->
    Acc;
spawn_n(N, Acc) ->
    spawn_n(N - 1, [spawn(?MODULE, idle, []) | Acc]).

wait_run_queues_empty() ->
    case erlang:statistics(total_run_queue_lengths) of
        0 -> ok;
        _ -> erlang:yield(), wait_run_queues_empty()
    end.

%% Resident set size of the beam process, from /proc/self/status.
vm_rss_bytes() ->
    {ok, Status} = file:read_file("/proc/self/status"),
    {match, [Kb]} = re:run(Status, "VmRSS:\\s+([0-9]+)\\s+kB",
                           [{capture, all_but_first, list}]),
    list_to_integer(Kb) * 1024.
