#include "daemon/common/clock.h"

namespace troupe {

RealClock* RealClock::Get() {
  static RealClock* clock = new RealClock();
  return clock;
}

}  // namespace troupe
