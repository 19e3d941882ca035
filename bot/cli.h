// Subcommands of the refundbot binary other than `serve`. Each returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace rd {

struct Config;

// `refundbot chat`: the dialog in a terminal (or driven by a script on stdin), on the real store.
int RunTerminalChat(const Config& config, const std::string& lang);
// `refundbot tickets list|show ID|export [--status S] [--json]`.
int RunTicketsCommand(const Config& config, const std::vector<std::string>& args);
// `refundbot staff add NAME --password-stdin` | `refundbot staff token NAME`.
int RunStaffCommand(const Config& config, const std::vector<std::string>& args);
// `refundbot eval claims|dates|faq FILE.jsonl [--json] [--floor PCT] [--max-unfiled N]`.
int RunEvalCommand(const Config& config, const std::vector<std::string>& args);

}  // namespace rd
