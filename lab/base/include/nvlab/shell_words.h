// File: nvlab/shell_words.h -- words written so that sh reads them back unchanged: how --dry-run
// prints a QEMU command line that can be pasted into a shell, and how exploration writes its
// replay commands.
//
// Thread-safety: pure functions.

#ifndef NVLAB_SHELL_WORDS_H_
#define NVLAB_SHELL_WORDS_H_

#include <string>
#include <string_view>
#include <vector>

namespace nvlab {

// ShellQuoted is `word` as is when it holds only characters sh takes literally
// (A-Z a-z 0-9 and _ @ % + = : , . / -), else in single quotes, each ' written as '\''.
// The empty word is ''.
std::string ShellQuoted(std::string_view word);

// ShellCommandLine is argv as one line of ShellQuoted words separated by spaces (a word with a
// newline keeps it, inside its quotes).
std::string ShellCommandLine(const std::vector<std::string>& argv);

}  // namespace nvlab

#endif  // NVLAB_SHELL_WORDS_H_
