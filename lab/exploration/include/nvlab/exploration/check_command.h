// File: lab/exploration/include/nvlab/exploration/check_command.h
//
// CheckArgv: how the check loop runs the user's check command in the guest. Exploration runs
// the check thousands of times, and under TCG each exec of the guest's shell costs a few
// milliseconds of a state's 20-40. A command that is a plain list of words (a program and its
// arguments, with $NVLAB_PMEM-style references to values the host knows) means the same
// without a shell, so it is run directly; anything else goes to `sh -c` unchanged.
//
// "Plain" is the subset where `sh -c TEXT` and the direct argv cannot differ: words separated
// by spaces or tabs, made of [A-Za-z0-9_./:,+@%=-] characters, '...' (literal), "..." (no
// backslash or backquote inside) and $NAME or ${NAME} references to names in `known`. An
// unquoted reference's value must be non-empty and made of the plain characters (so no field
// splitting or globbing can apply); in double quotes any value is taken as it is. The first
// word is an unquoted name without '=' (not an assignment) and not a shell builtin or keyword
// (`true`, `echo`, `test`, `cd`, `if`, ...), whose behaviour may differ from the program of
// that name. Anything else (redirections, pipes, globs, other variables, `~`, `#`, `$(...)`,
// backslashes) means a shell.

#ifndef NVLAB_EXPLORATION_CHECK_COMMAND_H_
#define NVLAB_EXPLORATION_CHECK_COMMAND_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nvlab {

// CheckArgv returns the argv that runs `command` in the guest: its words with the references
// expanded when it is plain (see above), else ShellCommand(command) (sh -c).
std::vector<std::string> CheckArgv(std::string_view command,
                                   const std::map<std::string, std::string>& known);

// The guest's mount point of the host share (`--share`).
inline constexpr std::string_view kGuestShareMount = "/host";
// The largest check program the check guest copies into its memory.
inline constexpr uint64_t kMaxCopiedCheckProgram = uint64_t{64} << 20;

// CheckProgramOnShare: the program of a check that runs without a shell, when it is a file of
// the host share that the check guest may serve from its own memory. Exec'ing a program from
// the 9p share costs its lookups and opens on the host at every check, even with the page
// cache (about a third of a corpus check under TCG); the check guest copies such a program
// into its tmpfs once and bind-mounts the copy over the same path, so the check's argv, its
// /proc/self/exe and the share stay as they were. Returns the guest path (argv[0]) when argv
// runs without a shell, argv[0] is an absolute path below kGuestShareMount without "." or ".."
// components, and the host file share_dir/REST is a regular file (not a symbolic link) of at
// most kMaxCopiedCheckProgram bytes; else nullopt (the program runs from the share).
std::optional<std::string> CheckProgramOnShare(const std::vector<std::string>& argv,
                                               const std::filesystem::path& share_dir);

}  // namespace nvlab

#endif  // NVLAB_EXPLORATION_CHECK_COMMAND_H_
