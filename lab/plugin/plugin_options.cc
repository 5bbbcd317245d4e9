// plugin_options.cc -- ParsePluginArguments.
#include "plugin_options.h"

#include <algorithm>
#include <charconv>
#include <system_error>

#include "nvlab/hex.h"

namespace nvlab::plugin {
namespace {

// ParseNumber -- (internal) the whole text as a decimal or 0x-hex number; a leading zero is a
// decimal digit, never octal.
bool ParseNumber(std::string_view text, uint64_t* out) {
  if (text.starts_with("0x") || text.starts_with("0X")) return ParseHexDigits(text.substr(2), out);
  if (text.empty() || text.size() > 20) return false;
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  *out = value;
  return true;
}

// ParseHexAddress -- (internal) hexadecimal with or without 0x.
bool ParseHexAddress(std::string_view text, uint64_t* out) {
  if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
  return ParseHexDigits(text, out);
}

// SplitFields -- (internal) the first `count - 1` colon-separated fields, then the rest.
bool SplitFields(std::string_view text, size_t count, std::vector<std::string_view>* fields) {
  fields->clear();
  for (size_t i = 0; i + 1 < count; ++i) {
    size_t colon = text.find(':');
    if (colon == std::string_view::npos) return false;
    fields->push_back(text.substr(0, colon));
    text = text.substr(colon + 1);
  }
  fields->push_back(text);
  return true;
}

bool ParseBool(std::string_view text, bool* out) {
  if (text == "on" || text == "yes" || text == "true") {
    *out = true;
  } else if (text == "off" || text == "no" || text == "false") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

}  // namespace

bool ParsePluginArguments(const std::vector<std::string_view>& args, PluginOptions* options,
                          std::string* error) {
  PluginOptions parsed;
  auto fail = [&](std::string_view arg, std::string_view why) {
    *error = "nvlab-plugin: " + std::string(why) + " '" + std::string(arg) + "'";
    return false;
  };
  for (std::string_view arg : args) {
    size_t eq = arg.find('=');
    if (eq == std::string_view::npos) return fail(arg, "expected key=value, got");
    std::string_view key = arg.substr(0, eq);
    std::string_view value = arg.substr(eq + 1);
    std::vector<std::string_view> f;
    if (key == "nvdimm") {
      NvdimmOption nvdimm;
      uint64_t index = 0;
      if (!SplitFields(value, 4, &f) || !ParseNumber(f[0], &index) || index > 255 ||
          !ParseHexAddress(f[1], &nvdimm.base) || !ParseNumber(f[2], &nvdimm.size) ||
          nvdimm.size == 0 || f[3].empty()) {
        return fail(arg, "bad value, expected nvdimm=INDEX:GPA-BASE-HEX:SIZE:PATH, in");
      }
      if (nvdimm.base % 64 != 0 || nvdimm.size % 64 != 0 ||
          nvdimm.base + nvdimm.size < nvdimm.base) {
        return fail(arg, "NVDIMM base and size must be multiples of 64, in");
      }
      nvdimm.index = static_cast<uint32_t>(index);
      nvdimm.path = std::string(f[3]);
      parsed.nvdimms.push_back(nvdimm);
    } else if (key == "ram") {
      RamOption ram;
      if (!SplitFields(value, 3, &f) || !ParseHexAddress(f[0], &ram.base) ||
          !ParseNumber(f[1], &ram.size) || ram.size == 0 || f[2].empty()) {
        return fail(arg, "bad value, expected ram=GPA-BASE-HEX:SIZE:PATH, in");
      }
      ram.path = std::string(f[2]);
      parsed.ram.push_back(ram);
    } else if (key == "persistence") {
      if (model::ParsePlatform(value, &parsed.persistence) != model::ModelStatus::kOk) {
        return fail(arg, "bad value, expected persistence=adr|eadr, in");
      }
    } else if (key == "on-cut") {
      std::string why;
      if (model::ParseCutPolicy(value, &parsed.on_cut, &why) != model::ModelStatus::kOk) {
        return fail(arg, "bad value (" + why + "), in");
      }
      parsed.on_cut_text = std::string(value);
    } else if (key == "report") {
      if (value.empty()) return fail(arg, "empty path in");
      parsed.report_path = std::string(value);
    } else if (key == "control") {
      if (value.empty()) return fail(arg, "empty path in");
      if (value.size() > 107) return fail(arg, "unix socket path longer than 107 bytes in");
      parsed.control_path = std::string(value);
    } else if (key == "cut-after-fences") {
      if (!ParseNumber(value, &parsed.cut_after_fences) || parsed.cut_after_fences == 0) {
        return fail(arg, "bad value, expected a number >= 1, in");
      }
    } else if (key == "trace-stores") {
      bool all = false;
      if (value == "user") {
        parsed.trace_stores = PluginOptions::TraceStores::kUser;
      } else if (ParseBool(value, &all)) {
        parsed.trace_stores =
            all ? PluginOptions::TraceStores::kAll : PluginOptions::TraceStores::kOff;
      } else {
        return fail(arg, "bad value, expected off|user|on, in");
      }
    } else if (key == "kernel-task") {
      KernelTaskLayout layout;
      uint64_t comm = 0;
      uint64_t pid = 0;
      uint64_t tgid = 0;
      // task_struct is a few KiB: field offsets beyond 64 KiB are a mistake, not a kernel.
      constexpr uint64_t kMaxFieldOffset = 0x10000;
      if (!SplitFields(value, 4, &f) || !ParseNumber(f[0], &layout.current_task_offset) ||
          !ParseNumber(f[1], &comm) || !ParseNumber(f[2], &pid) || !ParseNumber(f[3], &tgid) ||
          comm >= kMaxFieldOffset || pid >= kMaxFieldOffset || tgid >= kMaxFieldOffset) {
        return fail(arg, "bad value, expected kernel-task=CURRENT-TASK:COMM:PID:TGID offsets, in");
      }
      layout.comm_offset = static_cast<uint32_t>(comm);
      layout.pid_offset = static_cast<uint32_t>(pid);
      layout.tgid_offset = static_cast<uint32_t>(tgid);
      parsed.kernel_task = layout;
    } else if (key == "record") {
      if (value.empty()) return fail(arg, "empty path in");
      parsed.record_path = std::string(value);
    } else if (key == "watch-loads") {
      if (!ParseBool(value, &parsed.watch_loads)) {
        return fail(arg, "bad value, expected off|on, in");
      }
    } else {
      return fail(arg, "unknown option");
    }
  }
  if (parsed.watch_loads) {
    // The check guest's NVDIMM files change under the plugin between checks: nothing may
    // build on a persistence model there.
    const char* conflict = nullptr;
    if (!parsed.record_path.empty()) conflict = "record=";
    if (parsed.cut_after_fences != 0) conflict = "cut-after-fences=";
    if (parsed.trace_stores != PluginOptions::TraceStores::kOff) conflict = "trace-stores=";
    if (conflict != nullptr) {
      *error = std::string(
                   "nvlab-plugin: watch-loads=on keeps no persistence model and cannot "
                   "take option '") +
               conflict + "...'";
      return false;
    }
  }
  if (parsed.nvdimms.empty()) {
    *error = "nvlab-plugin: missing option 'nvdimm=INDEX:GPA-BASE-HEX:SIZE:PATH'";
    return false;
  }
  std::sort(parsed.nvdimms.begin(), parsed.nvdimms.end(),
            [](const NvdimmOption& a, const NvdimmOption& b) { return a.index < b.index; });
  for (size_t i = 0; i < parsed.nvdimms.size(); ++i) {
    if (parsed.nvdimms[i].index != i) {
      *error =
          "nvlab-plugin: nvdimm indexes must be 0.." + std::to_string(parsed.nvdimms.size() - 1) +
          ", each once, in option 'nvdimm=" + std::to_string(parsed.nvdimms[i].index) + ":...'";
      return false;
    }
  }
  *options = std::move(parsed);
  return true;
}

}  // namespace nvlab::plugin
