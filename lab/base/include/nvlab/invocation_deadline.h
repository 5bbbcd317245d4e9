// File: nvlab/invocation_deadline.h
//
// The invocation deadline is the user's limit on one whole nvlab invocation (`--timeout`): the
// image build and every host tool it runs, QEMU's start, the boots, the commands, power cuts
// and power-offs all end by it. Subprocess::Wait (nvlab/subprocess.h) takes it into account by
// itself, so no child of nvlab outlives the user's limit even where a caller passed no deadline;
// the lab's own waits combine it with theirs (Deadline::Earlier).
//
// A Timeout status is the user's limit (exit 124) only when this deadline has passed; a lab
// wait that expired before it (QMP, the agent's hello, a power cut, a power-off) is a lab
// failure (InternalWaitExpired).
//
// Why process-wide: like a signal, the user's limit belongs to the invocation, not to one call
// chain; the image builder's tools are many calls deep. It is set once by main before any other
// thread starts, and only read afterwards (a lock-free atomic, so reading it from any thread is
// safe). Until it is set it never passes.

#ifndef NVLAB_INVOCATION_DEADLINE_H_
#define NVLAB_INVOCATION_DEADLINE_H_

#include "nvlab/deadline.h"
#include "nvlab/status.h"

namespace nvlab {

// SetInvocationDeadline sets the invocation's limit (main, once, before threads start).
void SetInvocationDeadline(Deadline deadline);

// InvocationDeadline returns the invocation's limit; Deadline::Never() until one is set.
Deadline InvocationDeadline();

// InternalWaitExpired turns a Timeout that is not the user's into a lab failure: when `status`
// is a Timeout and the invocation deadline has not passed, it returns an IoError whose message
// says a lab wait expired, naming it (`status`'s message says which wait); any other status is
// returned as it is.
Status InternalWaitExpired(const Status& status);

}  // namespace nvlab

#endif  // NVLAB_INVOCATION_DEADLINE_H_
