// qemu_argv_rewrite.cc -- reading libvirt's QEMU argv just enough to add thread=single and ram=.

#include "qemu_argv_rewrite.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "nvlab/hex.h"

namespace nvlab::emulator {
namespace {

constexpr std::string_view kPluginBasename = "nvlab-plugin.so";

// OptionValue returns the value of QEMU option `name` (given without dashes) when args[i] is
// that option (`-name` or `--name`) and a value follows it.
std::optional<std::string_view> OptionValue(const std::vector<std::string>& args, size_t i,
                                            std::string_view name) {
  std::string_view arg = args[i];
  if (arg.starts_with("--")) {
    arg.remove_prefix(2);
  } else if (arg.starts_with("-")) {
    arg.remove_prefix(1);
  } else {
    return std::nullopt;
  }
  if (arg != name || i + 1 >= args.size()) return std::nullopt;
  return std::string_view(args[i + 1]);
}

// KeyValueList is a QEMU key=value list as QEMU reads it: elements split at single commas, a
// doubled comma standing for a literal one. An element without '=' has an empty key (the
// option's implied key when it comes first, e.g. -object's qom-type or -plugin's file).
using KeyValueList = std::vector<std::pair<std::string, std::string>>;

KeyValueList ParseKeyValueList(std::string_view text) {
  KeyValueList list;
  std::string element;
  auto finish = [&] {
    const size_t eq = element.find('=');
    if (eq == std::string::npos) {
      list.emplace_back("", element);
    } else {
      list.emplace_back(element.substr(0, eq), element.substr(eq + 1));
    }
    element.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != ',') {
      element += text[i];
    } else if (i + 1 < text.size() && text[i + 1] == ',') {
      element += ',';
      ++i;
    } else {
      finish();
    }
  }
  finish();
  return list;
}

bool HasKey(const KeyValueList& list, std::string_view key) {
  return std::any_of(list.begin(), list.end(), [&](const auto& kv) { return kv.first == key; });
}

// Lookup returns the value of `key`; an implied key is also found as the first element's.
std::optional<std::string> Lookup(const KeyValueList& list, std::string_view key,
                                  bool implied = false) {
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].first == key || (implied && i == 0 && list[i].first.empty())) {
      return list[i].second;
    }
  }
  return std::nullopt;
}

// DoubleCommas writes a value for a QEMU key=value list.
std::string DoubleCommas(std::string_view value) {
  std::string out;
  for (char c : value) {
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

// ParseSize reads a QEMU size as the RAM backends' key=value form has it: decimal digits and an
// optional binary suffix (K, M, G, T, P, E; B for bytes). Anything else (fractions, hex) is
// refused: the caller then adds no ram= at all rather than guess.
std::optional<uint64_t> ParseSize(std::string_view text) {
  size_t digits = 0;
  uint64_t value = 0;
  for (; digits < text.size() && text[digits] >= '0' && text[digits] <= '9'; ++digits) {
    const uint64_t d = static_cast<uint64_t>(text[digits] - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    value = value * 10 + d;
  }
  if (digits == 0 || text.size() > digits + 1) return std::nullopt;
  int shift = 0;
  if (text.size() == digits + 1) {
    static constexpr std::string_view kSuffixes = "BKMGTPE";
    const char suffix =
        text[digits] >= 'a' ? static_cast<char>(text[digits] - 'a' + 'A') : text[digits];
    const size_t at = kSuffixes.find(suffix);
    if (at == std::string_view::npos) return std::nullopt;
    shift = static_cast<int>(at) * 10;
  }
  if (shift > 0 && value > (std::numeric_limits<uint64_t>::max() >> shift)) return std::nullopt;
  return value << shift;
}

bool ParseOnOff(std::string_view text) {
  return text == "on" || text == "yes" || text == "true" || text == "y";
}

// RamObject is what the rewriting needs of one -object memory-backend-*.
struct RamObject {
  std::string id;
  std::string qom_type;
  std::optional<uint64_t> size;
  std::optional<std::string> mem_path;
  bool share = false;
};

// ParseJsonObject reads libvirt's JSON form; nullopt when it is not a JSON object.
std::optional<RamObject> ParseJsonObject(std::string_view text) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return std::nullopt;
  RamObject object;
  auto string_field = [&](const char* key) -> std::optional<std::string> {
    const auto it = json.find(key);
    if (it == json.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  object.id = string_field("id").value_or("");
  object.qom_type = string_field("qom-type").value_or("");
  object.mem_path = string_field("mem-path");
  if (const auto it = json.find("size"); it != json.end() && it->is_number_unsigned()) {
    object.size = it->get<uint64_t>();
  } else if (it != json.end() && it->is_string()) {
    object.size = ParseSize(it->get<std::string>());
  }
  if (const auto it = json.find("share"); it != json.end()) {
    object.share =
        it->is_boolean() ? it->get<bool>() : it->is_string() && ParseOnOff(it->get<std::string>());
  }
  return object;
}

RamObject ParseKeyValueObject(std::string_view text) {
  const KeyValueList list = ParseKeyValueList(text);
  RamObject object;
  object.id = Lookup(list, "id").value_or("");
  object.qom_type = Lookup(list, "qom-type", /*implied=*/true).value_or("");
  object.mem_path = Lookup(list, "mem-path");
  if (const auto size = Lookup(list, "size")) object.size = ParseSize(*size);
  if (const auto share = Lookup(list, "share")) object.share = ParseOnOff(*share);
  return object;
}

// NodeNumber reads N from libvirt's id "ram-node<N>".
std::optional<uint64_t> NodeNumber(std::string_view id) {
  constexpr std::string_view kPrefix = "ram-node";
  if (!id.starts_with(kPrefix) || id.size() == kPrefix.size() || id.size() > kPrefix.size() + 4) {
    return std::nullopt;
  }
  uint64_t n = 0;
  for (char c : id.substr(kPrefix.size())) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

bool IsNvlabPlugin(std::string_view value) {
  const std::optional<std::string> file = Lookup(ParseKeyValueList(value), "file", true);
  if (!file) return false;
  const size_t slash = file->rfind('/');
  return std::string_view(*file).substr(slash == std::string::npos ? 0 : slash + 1) ==
         kPluginBasename;
}

// RewriteAccel gives `value` with ,thread=single when it is TCG without thread=.
std::string RewriteAccel(std::string_view value) {
  if (value != "tcg" && !value.starts_with("tcg,")) return std::string(value);
  if (HasKey(ParseKeyValueList(value), "thread")) return std::string(value);
  return std::string(value) + ",thread=single";
}

}  // namespace

std::vector<GuestRamFile> FindGuestRamFiles(const std::vector<std::string>& args) {
  std::map<uint64_t, RamObject> nodes;  // ram-node<N> by N: node order.
  std::optional<RamObject> pc_ram;
  bool unreadable = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::optional<std::string_view> value = OptionValue(args, i, "object");
    if (!value) continue;
    ++i;
    std::optional<RamObject> object;
    if (value->starts_with("{")) {
      object = ParseJsonObject(*value);
      // A JSON object that does not parse may still be guest RAM: pass no ram= at all.
      if (!object) {
        if (value->find("ram-node") != std::string_view::npos ||
            value->find("pc.ram") != std::string_view::npos) {
          unreadable = true;
        }
        continue;
      }
    } else {
      object = ParseKeyValueObject(*value);
    }
    if (!object->qom_type.starts_with("memory-backend-")) continue;
    if (const std::optional<uint64_t> n = NodeNumber(object->id)) {
      if (!nodes.emplace(*n, *object).second) unreadable = true;  // A repeated node.
    } else if (object->id == "pc.ram") {
      pc_ram = object;
    }
  }
  std::vector<RamObject> ram;
  if (!nodes.empty()) {
    uint64_t expected = 0;
    for (auto& [n, object] : nodes) {
      if (n != expected++) return {};  // A missing node: its size, hence the bases, unknown.
      ram.push_back(std::move(object));
    }
  } else if (pc_ram) {
    ram.push_back(std::move(*pc_ram));
  }
  if (unreadable) return {};
  std::vector<GuestRamFile> files;
  uint64_t base = 0;
  for (const RamObject& object : ram) {
    if (!object.size || *object.size == 0) return {};
    const bool is_file = object.qom_type == "memory-backend-file";
    if (is_file && (!object.mem_path || object.mem_path->empty())) return {};
    if (is_file && object.share) files.push_back({base, *object.size, *object.mem_path});
    if (base + *object.size < base) return {};
    base += *object.size;
  }
  return files;
}

std::vector<std::string> RewriteQemuArguments(const std::vector<std::string>& args) {
  std::vector<std::string> out = args;
  std::string ram_options;
  for (const GuestRamFile& file : FindGuestRamFiles(args)) {
    ram_options += ",ram=" + FormatHex(file.base) + ":" + std::to_string(file.size) + ":" +
                   DoubleCommas(file.path);
  }
  for (size_t i = 0; i < args.size(); ++i) {
    if (const auto accel = OptionValue(args, i, "accel")) {
      out[++i] = RewriteAccel(*accel);
    } else if (const auto plugin = OptionValue(args, i, "plugin")) {
      ++i;
      if (!ram_options.empty() && IsNvlabPlugin(*plugin) &&
          !HasKey(ParseKeyValueList(*plugin), "ram")) {
        out[i] += ram_options;
      }
    } else if (OptionValue(args, i, "object")) {
      ++i;  // Its value is not an option, whatever it looks like.
    }
  }
  return out;
}

}  // namespace nvlab::emulator
