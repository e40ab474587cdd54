// The `collab` subcommands. Each takes the arguments after its name (argv[0] is the command's
// name), throws collab::Error or std::invalid_argument for anything the user got wrong, and
// returns the process exit code. `main` dispatches and catches once.
#pragma once

namespace collab {

int train_command(int argc, char** argv);
int data_command(int argc, char** argv);

}  // namespace collab
