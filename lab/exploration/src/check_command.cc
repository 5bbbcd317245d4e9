// check_command.cc -- CheckArgv.

#include "nvlab/exploration/check_command.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string_view>
#include <system_error>

#include "nvlab/guest.h"

namespace nvlab {
namespace {

bool IsPlainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_./:,+@%=-").find(c) != std::string_view::npos;
}

bool IsNameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (!first && c >= '0' && c <= '9');
}

// busybox ash's builtins and the shell's reserved words.
constexpr std::array<std::string_view, 58> kShellWords = {
    ".",       ":",        "[",        "[[",      "alias", "bg",      "break",  "cd",    "chdir",
    "command", "continue", "echo",     "eval",    "exec",  "exit",    "export", "false", "fg",
    "getopts", "hash",     "help",     "history", "jobs",  "kill",    "let",    "local", "printf",
    "pwd",     "read",     "readonly", "return",  "set",   "shift",   "source", "test",  "times",
    "trap",    "true",     "type",     "ulimit",  "umask", "unalias", "unset",  "wait",  "if",
    "then",    "else",     "elif",     "fi",      "case",  "esac",    "for",    "while", "until",
    "do",      "done",     "function", "select"};

// Reference reads $NAME or ${NAME} at word[*i] (the '$') and returns the name, moving *i past
// it, or nothing when it is not one.
std::optional<std::string> Reference(std::string_view word, size_t* i) {
  size_t begin = *i + 1;
  const bool braced = begin < word.size() && word[begin] == '{';
  if (braced) ++begin;
  size_t end = begin;
  while (end < word.size() && IsNameChar(word[end], end == begin)) ++end;
  if (end == begin) return std::nullopt;
  if (braced && (end >= word.size() || word[end] != '}')) return std::nullopt;
  *i = braced ? end + 1 : end;
  return std::string(word.substr(begin, end - begin));
}

// ExpandWord expands one word's references and quotes, or nothing when the word is not plain.
// Unquoted, a value must be made of plain characters (no field splitting or globbing can
// apply); in double quotes any value is taken as it is, and in single quotes every character.
std::optional<std::string> ExpandWord(std::string_view word,
                                      const std::map<std::string, std::string>& known) {
  std::string out;
  for (size_t i = 0; i < word.size();) {
    const char c = word[i];
    if (c == '\'') {
      const size_t close = word.find('\'', i + 1);
      if (close == std::string_view::npos) return std::nullopt;
      out.append(word.substr(i + 1, close - i - 1));
      i = close + 1;
    } else if (c == '"') {
      for (++i;;) {
        if (i >= word.size()) return std::nullopt;  // Unclosed.
        const char q = word[i];
        if (q == '"') break;
        if (q == '\\' || q == '`') return std::nullopt;
        if (q == '$') {
          const std::optional<std::string> name = Reference(word, &i);
          if (!name) return std::nullopt;
          const auto it = known.find(*name);
          if (it == known.end()) return std::nullopt;
          out += it->second;
          continue;
        }
        out += q;
        ++i;
      }
      ++i;
    } else if (c == '$') {
      const std::optional<std::string> name = Reference(word, &i);
      if (!name) return std::nullopt;
      const auto it = known.find(*name);
      if (it == known.end() || it->second.empty() ||
          !std::all_of(it->second.begin(), it->second.end(), IsPlainChar)) {
        return std::nullopt;
      }
      out += it->second;
    } else {
      if (!IsPlainChar(c)) return std::nullopt;
      out += c;
      ++i;
    }
  }
  return out;
}

// NextWord finds the word that starts at command[*i] (after blanks), moving *i past it: quoted
// blanks belong to the word. Returns false at the end, or at an unclosed quote (*bad set).
bool NextWord(std::string_view command, size_t* i, std::string_view* word, bool* bad) {
  while (*i < command.size() && (command[*i] == ' ' || command[*i] == '\t')) ++*i;
  if (*i >= command.size()) return false;
  size_t end = *i;
  char quote = 0;
  while (end < command.size() && (quote != 0 || (command[end] != ' ' && command[end] != '\t'))) {
    if (quote == 0 && (command[end] == '"' || command[end] == '\'')) {
      quote = command[end];
    } else if (quote != 0 && command[end] == quote) {
      quote = 0;
    }
    ++end;
  }
  if (quote != 0) {
    *bad = true;
    return false;
  }
  *word = command.substr(*i, end - *i);
  *i = end;
  return true;
}

}  // namespace

std::vector<std::string> CheckArgv(std::string_view command,
                                   const std::map<std::string, std::string>& known) {
  std::vector<std::string> argv;
  size_t i = 0;
  std::string_view word;
  bool bad = false;
  while (NextWord(command, &i, &word, &bad)) {
    if (argv.empty() &&
        (word.find_first_of("='\"$") != std::string_view::npos ||
         std::find(kShellWords.begin(), kShellWords.end(), word) != kShellWords.end())) {
      return ShellCommand(command);  // An assignment, or a name the shell may take itself.
    }
    std::optional<std::string> expanded = ExpandWord(word, known);
    if (!expanded) return ShellCommand(command);
    argv.push_back(std::move(*expanded));
  }
  if (bad || argv.empty()) return ShellCommand(command);
  return argv;
}

std::optional<std::string> CheckProgramOnShare(const std::vector<std::string>& argv,
                                               const std::filesystem::path& share_dir) {
  if (argv.empty() || share_dir.empty()) return std::nullopt;  // `sh -c` runs "sh"
  const std::string prefix = std::string(kGuestShareMount) + "/";
  const std::string& program = argv[0];
  if (!program.starts_with(prefix)) return std::nullopt;
  // Plain components only: "//", ".", ".." or a trailing "/" would let the host's and the
  // guest's reading of the path differ.
  const std::string_view rest = std::string_view(program).substr(prefix.size());
  for (size_t start = 0;;) {
    const size_t end = std::min(rest.find('/', start), rest.size());
    const std::string_view part = rest.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return std::nullopt;
    if (end == rest.size()) break;
    start = end + 1;
  }
  std::error_code ec;
  const std::filesystem::path host = share_dir / rest;
  const std::filesystem::file_status status = std::filesystem::symlink_status(host, ec);
  if (ec || !std::filesystem::is_regular_file(status)) return std::nullopt;
  const uintmax_t size = std::filesystem::file_size(host, ec);
  if (ec || size > kMaxCopiedCheckProgram) return std::nullopt;
  return program;
}

}  // namespace nvlab
