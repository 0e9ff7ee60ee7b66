// braid-info lists every BRAID_* parameter of the registry (src/params.def) with its value, type,
// default and a one-line doc, and reports the build features: what issue 2 promises users who
// ask the tool how braid is configured.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/shell.h"

namespace {

using braid::testing::Ran;
using braid::testing::runShell;

const std::string kInfo = std::string(BRAID_BIN_DIR) + "/tools/braid-info";

// The parameter names declared in the registry's source.
std::vector<std::string> declaredParameters() {
  std::ifstream in(std::string(BRAID_SOURCE_DIR) + "/src/params.def");
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> names;
  const std::regex declared(R"re(BRAID_PARAM\(\w+,\s*"(BRAID_\w+)")re");
  const std::string s = text.str();
  for (auto it = std::sregex_iterator(s.begin(), s.end(), declared); it != std::sregex_iterator();
       ++it) {
    names.push_back((*it)[1]);
  }
  return names;
}

TEST(BraidInfo, ListsEveryParameterWithItsDoc) {
  const std::vector<std::string> names = declaredParameters();
  ASSERT_GE(names.size(), 20u) << "could not read src/params.def";
  Ran r = runShell(kInfo);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  std::vector<std::string> lines;
  std::istringstream out(r.output);
  for (std::string line; std::getline(out, line);) lines.push_back(line);
  for (const std::string& name : names) {
    // "  NAME   = value   [type, default d]" and the doc on the next line.
    const std::regex entry("^  " + name + R"( +=.*\[\w+, default .*\]$)");
    size_t at = lines.size();
    for (size_t i = 0; i < lines.size(); ++i) {
      if (std::regex_match(lines[i], entry)) at = i;
    }
    ASSERT_LT(at, lines.size()) << name << " is not listed:\n" << r.output;
    ASSERT_LT(at + 1, lines.size()) << name << " has no doc line";
    const std::string& doc = lines[at + 1];
    EXPECT_EQ(doc.rfind("      ", 0), 0u) << name << ": " << doc;
    EXPECT_GE(doc.size(), 6u + 10u) << name << " has a doc of under ten characters: " << doc;
  }
}

TEST(BraidInfo, ReportsVersionAndBuildFeatures) {
  Ran r = runShell(kInfo);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_EQ(r.output.rfind("braid ", 0), 0u) << r.output;
  for (const char* feature : {"CUDA", "UCX", "ibverbs", "hwloc"}) {
    EXPECT_TRUE(std::regex_search(r.output, std::regex(std::string("[✓✗] ") + feature)))
        << feature << " missing:\n"
        << r.output;
  }
}

}  // namespace
