// `isolator run`: see run.cpp.
#ifndef NETISOLATOR_RUNNER_RUN_HPP
#define NETISOLATOR_RUNNER_RUN_HPP

namespace netisolator::runner {

// Runs the command given after "--" in a container attached to CNI networks; returns its exit status.
// Throws std::invalid_argument for a bad command line.
int Run(int argc, char** argv);

}  // namespace netisolator::runner

#endif  // NETISOLATOR_RUNNER_RUN_HPP
