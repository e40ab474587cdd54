// The `collab` subcommands. Each takes the arguments after its name (argv[0] is the command's
// name), throws collab::Error or std::invalid_argument for anything the user got wrong, and
// returns the process exit code. `main` dispatches and catches once.
#pragma once

namespace collab {

int train_command(int argc, char** argv);
int resume_command(int argc, char** argv);
int data_command(int argc, char** argv);
int export_command(int argc, char** argv);
int recommend_command(int argc, char** argv);
int similar_command(int argc, char** argv);
int predict_command(int argc, char** argv);
int interpret_command(int argc, char** argv);
int compare_command(int argc, char** argv);
int launch_command(int argc, char** argv);
int lr_find_command(int argc, char** argv);
int tune_command(int argc, char** argv);
int serve_command(int argc, char** argv);
int audit_command(int argc, char** argv);
int fit_users_command(int argc, char** argv);
int fit_items_command(int argc, char** argv);
int cold_start_command(int argc, char** argv);

}  // namespace collab
