// tools/help_text.hpp: the man-page-like parts of `dlock ... --help` (description, exit
// status, environment, examples), shown after CLI11's list of options.
#pragma once

namespace dlock::cli::help {

extern const char* const main_footer;
extern const char* const run_description;
extern const char* const run_footer;
extern const char* const acquire_description;
extern const char* const acquire_footer;
extern const char* const release_description;
extern const char* const release_footer;
extern const char* const extend_description;
extern const char* const extend_footer;
extern const char* const status_description;
extern const char* const status_footer;
extern const char* const list_description;
extern const char* const list_footer;
extern const char* const wait_description;
extern const char* const wait_footer;
extern const char* const break_description;
extern const char* const break_footer;

}  // namespace dlock::cli::help
