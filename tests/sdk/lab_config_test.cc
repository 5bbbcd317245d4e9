// lab_config_test.cc -- the SDK's configuration: ValidateLabConfig, LabConfig as the session's
// LabOptions, ExitStatusOf (unit, no QEMU).

#include <gtest/gtest.h>

#include "lab_options_from_config.h"
#include "nvlab/exit_status.h"
#include "nvlab/lab_config.h"

namespace nvlab {
namespace {

TEST(LabConfigTest, TheDefaultsAreTheCommandsDefaults) {
  const LabConfig config;
  EXPECT_TRUE(ValidateLabConfig(config).ok());
  const LabOptions options = LabOptionsFromConfig(config);
  const LabOptions command_defaults;
  EXPECT_EQ(options.machine, command_defaults.machine);
  EXPECT_EQ(options.on_cut, command_defaults.on_cut);
  EXPECT_EQ(options.timeout_seconds, command_defaults.timeout_seconds);
  EXPECT_EQ(options.hang_timeout_seconds, command_defaults.hang_timeout_seconds);
  EXPECT_FALSE(options.persistence.has_value());
  EXPECT_EQ(options.model, std::optional<bool>(true));
  EXPECT_FALSE(options.cold);
}

TEST(LabConfigTest, EveryFieldCarriesOverToTheLabOptions) {
  LabConfig config;
  config.machine = "/some/where/big.machine";
  config.share_dir = "/srv/share";
  config.model = false;
  config.persistence = LabPersistence::kEadr;
  config.nvdimm_images = {"/a/nv0.img", "/a/nv1.img"};
  config.cold = true;
  config.timeout_seconds = 77;
  config.hang_timeout_seconds = 0;
  config.verbose = true;
  ASSERT_TRUE(ValidateLabConfig(config).ok());
  const LabOptions o = LabOptionsFromConfig(config);
  EXPECT_EQ(o.machine, "/some/where/big.machine");
  EXPECT_EQ(o.share_dir, "/srv/share");
  EXPECT_EQ(o.model, std::optional<bool>(false));
  EXPECT_EQ(o.persistence, std::optional<Persistence>(Persistence::kEadr));
  EXPECT_EQ(o.nvdimm_images, (std::vector<std::string>{"/a/nv0.img", "/a/nv1.img"}));
  EXPECT_TRUE(o.cold);
  EXPECT_EQ(o.timeout_seconds, 77);
  EXPECT_EQ(o.hang_timeout_seconds, 0);
  EXPECT_TRUE(o.verbose);
  config.persistence = LabPersistence::kAdr;
  EXPECT_EQ(LabOptionsFromConfig(config).persistence,
            std::optional<Persistence>(Persistence::kAdr));
}

TEST(LabConfigTest, BadValuesAreInvalidArgumentsNamingTheField) {
  const auto problem = [](auto change) {
    LabConfig config;
    change(config);
    const Status s = ValidateLabConfig(config);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
    return s.message();
  };
  EXPECT_TRUE(problem([](LabConfig& c) { c.on_cut = "sometimes"; }).starts_with("on_cut: "));
  EXPECT_TRUE(problem([](LabConfig& c) { c.timeout_seconds = 0; }).starts_with("timeout_"));
  EXPECT_TRUE(problem([](LabConfig& c) { c.timeout_seconds = 86401; }).starts_with("timeout_"));
  EXPECT_TRUE(problem([](LabConfig& c) { c.hang_timeout_seconds = -1; }).starts_with("hang_"));
  EXPECT_TRUE(problem([](LabConfig& c) { c.machine.clear(); }).starts_with("machine: "));
  EXPECT_TRUE(problem([](LabConfig& c) { c.nvdimm_images = {""}; }).starts_with("nvdimm_"));
  EXPECT_TRUE(problem([](LabConfig& c) {
                c.model = false;
                c.on_cut = "keep";
              }).starts_with("on_cut: "));
}

TEST(LabConfigTest, RandomPoliciesParseAsTheCommandsDo) {
  LabConfig config;
  for (const char* policy : {"lose", "keep", "random:7", "random:0x10:0.25"}) {
    config.on_cut = policy;
    EXPECT_TRUE(ValidateLabConfig(config).ok()) << policy;
  }
}

TEST(ExitStatusTest, FailuresMapToTheCommandsStatuses) {
  EXPECT_EQ(ExitStatusOf(Status::Ok()), exit_status::kSuccess);
  EXPECT_EQ(ExitStatusOf(Status::InvalidArgument("x")), exit_status::kUsageError);
  EXPECT_EQ(ExitStatusOf(Status::Timeout("x")), exit_status::kTimeout);
  EXPECT_EQ(ExitStatusOf(Status::Cancelled("x")), exit_status::kInterrupted);
  EXPECT_EQ(ExitStatusOf(Status::GuestDied("x")), exit_status::kLabFailure);
  EXPECT_EQ(ExitStatusOf(Status::NotFound("x")), exit_status::kLabFailure);
  EXPECT_EQ(exit_status::kUsageError, 2);
  EXPECT_EQ(exit_status::kTimeout, 124);
  EXPECT_EQ(exit_status::kLabFailure, 125);
  EXPECT_EQ(exit_status::kInterrupted, 130);
}

}  // namespace
}  // namespace nvlab
