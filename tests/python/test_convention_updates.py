"""Client.convention_updates against a real convention of two daemons on
127.0.0.1: the leader's watch sees a member join and leave, each as it
happens (Admin.WatchConvention)."""

import os
import shutil

import troupe

# How long one roster change may take to reach the watch: a join is pushed at
# once; a sanitizer build on a busy machine is slow.
UPDATE_SECONDS = 60


def members(update):
    return sorted(m.address for m in update.members)


def next_matching(updates, predicate, what):
    """The first update for which predicate holds. The generator's own
    timeout bounds the wait (DeadlineExceeded fails the test)."""
    seen = []
    for update in updates:
        if predicate(update):
            return update
        seen.append(members(update))
    raise AssertionError(f"the watch ended before {what}; members seen: {seen}")


def test_leader_watch_sees_a_member_join_and_leave(make_daemon):
    leader = make_daemon("leader")
    leader.director("keygen", "--convention")
    leader.set_config("checkin_interval_ms", "200")
    leader.start_on_free_port()

    member = make_daemon("member")
    key = os.path.join(member.dir, "keys", "convention.key")
    os.makedirs(os.path.dirname(key), mode=0o700, exist_ok=True)
    shutil.copyfile(os.path.join(leader.dir, "keys", "convention.key"), key)
    os.chmod(key, 0o600)
    member.set_config("convleader", leader.tcp)
    member.set_config("checkin_interval_ms", "200")

    with troupe.Client(leader.socket) as client:
        updates = client.convention_updates(timeout=3 * UPDATE_SECONDS)
        first = next(updates)
        assert first.role == "leader"
        assert members(first) == [leader.tcp]

        member.start_on_free_port()
        joined = next_matching(updates, lambda u: member.tcp in members(u), "the member joined")
        assert members(joined) == sorted([leader.tcp, member.tcp])
        assert joined.members[0].address == leader.tcp  # the leader first

        member.stop()  # a graceful leave
        left = next_matching(updates, lambda u: member.tcp not in members(u), "the member left")
        assert members(left) == [leader.tcp]
        updates.close()

        assert members(client.convention_status()) == [leader.tcp]
