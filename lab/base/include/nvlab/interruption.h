// File: nvlab/interruption.h
//
// Interruption records that the user asked nvlab to stop (SIGINT, SIGTERM, SIGHUP), so that the
// long waits of a Guest (boot, a running command) end promptly with a Cancelled status, QEMU is
// killed and the run folder removed, instead of the process dying with QEMU and files left over.
//
// The state is one process-wide flag: a signal is process-wide, and a signal handler can only
// set a lock-free atomic.

#ifndef NVLAB_INTERRUPTION_H_
#define NVLAB_INTERRUPTION_H_

namespace nvlab {

// InstallInterruptionHandlers makes SIGINT, SIGTERM and SIGHUP set the flag (once per process).
// Each handler is reset to the default disposition when it runs (SA_RESETHAND): the first
// signal asks nvlab to stop cleanly, a second one of the same kind ends it at once.
void InstallInterruptionHandlers();

// InterruptionSignal returns the signal that asked nvlab to stop, or 0.
int InterruptionSignal();

}  // namespace nvlab

#endif  // NVLAB_INTERRUPTION_H_
