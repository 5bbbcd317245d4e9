// File: nvlab/model_control.h
//
// The host's two channels to the persistence model (the TCG plugin) besides its -plugin
// options: the control socket, on which "cut\n" asks the model to settle the NVDIMMs of a
// stopped machine (it answers "ok..." once it has rewritten and synced them and written its
// report), and the cut report file it writes (nvlab/cut_report.h reads the text). Guest and
// DomainGuest (lab/libvirt) both cut the power through these.
//
// Thread-safety: free functions without shared state.

#ifndef NVLAB_MODEL_CONTROL_H_
#define NVLAB_MODEL_CONTROL_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "nvlab/cut_report.h"
#include "nvlab/deadline.h"
#include "nvlab/status.h"

namespace nvlab {

// RequestModelCut sends "cut\n" to the model's control socket and waits (within the deadline)
// for its one-line answer. OK when the answer starts with "ok"; otherwise IoError "the
// persistence model did not settle the NVDIMMs (ANSWER)", the answer escaped and shortened, or
// "no answer" when there was none (socket missing, refused, closed, deadline).
Status RequestModelCut(const std::filesystem::path& control_socket, Deadline deadline);

// ModelControlExchange sends one command line (without its newline) to the model's control
// socket and waits, within the deadline, for the one-line answer. OK when it starts with "ok":
// *answer holds it without the newline (it is the plugin's, so only escaped text is shown). An
// IoError names the command otherwise: "refused" with the escaped answer, or "did not answer".
// Crash-state exploration's load watching uses it ("watch-begin", "watch-end PATH").
Status ModelControlExchange(const std::filesystem::path& control_socket, std::string_view command,
                            Deadline deadline, std::string* answer);

// ReadCutReportFile reads and parses the model's report: IoError "the persistence model wrote no
// cut report" when the file cannot be opened, otherwise what ParseCutReport says (a file over
// kMaxCutReportBytes is refused by it).
Status ReadCutReportFile(const std::filesystem::path& path, CutReport* report);

}  // namespace nvlab

#endif  // NVLAB_MODEL_CONTROL_H_
