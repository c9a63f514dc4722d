// Enters the container's mount namespace before the .NET runtime starts, for `network-cni-setup`.
//
// The kernel refuses setns(CLONE_NEWNS) with EINVAL to a process that has more than one thread: all threads share
// one filesystem context (root, cwd), and moving it under the others' feet is not allowed. A NativeAOT program has
// several threads before Main runs, so the helper cannot enter the namespace from C#. ELF constructors run earlier,
// while the process is still single-threaded (glibc calls them with argc, argv and envp), so this one does exactly
// that step and nothing else, like runc's nsexec: every check, message and mount stays in managed code, which reads
// the outcome through netisolator_helper_mount_namespace().
//
// The pid is taken from the same places the managed flag parser takes it (`--pid=N` on the command line, else
// MESOS_CONTAINERIZER_PID); anything unusable is left for the managed side to report.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// The outcome, as the managed side reads it. Keep in sync with MountNamespaceEntry.cs.
enum {
    ENTRY_NOT_ATTEMPTED = 0,  // not network-cni-setup, --help, or no usable pid
    ENTRY_ENTERED = 1,        // the process is in the pid's mount namespace
    ENTRY_SAME_NAMESPACE = 2, // the pid shares this process's (the host's) mount namespace: not entered
    ENTRY_FAILED = 3,         // error and step say why
};
enum { STEP_NONE = 0, STEP_OPEN = 1, STEP_STAT = 2, STEP_SETNS = 3 };

static int entry_state = ENTRY_NOT_ATTEMPTED;
static int entry_errno = 0;
static int entry_step = STEP_NONE;

static int parse_pid(const char* text) {
    if (text == NULL || *text == '\0') return -1;
    long value = 0;
    for (const char* c = text; *c != '\0'; c++) {
        if (*c < '0' || *c > '9') return -1;
        value = value * 10 + (*c - '0');
        if (value > INT_MAX) return -1;
    }
    return value > 0 ? (int)value : -1;
}

static void fail(int step) {
    entry_state = ENTRY_FAILED;
    entry_errno = errno;
    entry_step = step;
}

__attribute__((constructor)) static void enter_mount_namespace(int argc, char** argv, char** envp) {
    (void)envp;
    if (argc < 2 || argv == NULL || strcmp(argv[1], "network-cni-setup") != 0) return;
    const char* pid_text = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "--help=true") == 0) return;
        if (strncmp(argv[i], "--pid=", 6) == 0) {
            if (pid_text != NULL) return;  // a duplicate flag: the managed parser refuses it
            pid_text = argv[i] + 6;
        }
    }
    if (pid_text == NULL) pid_text = getenv("MESOS_CONTAINERIZER_PID");
    int pid = parse_pid(pid_text);
    if (pid < 0) return;

    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/mnt", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fail(STEP_OPEN);
        return;
    }
    struct stat theirs, ours;
    if (fstat(fd, &theirs) != 0 || stat("/proc/self/ns/mnt", &ours) != 0) {
        fail(STEP_STAT);
    } else if (theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino) {
        // Mounting over "/etc/hosts" here would change the host's own files: the managed side refuses.
        entry_state = ENTRY_SAME_NAMESPACE;
    } else if (setns(fd, CLONE_NEWNS) != 0) {
        fail(STEP_SETNS);
    } else {
        entry_state = ENTRY_ENTERED;
    }
    close(fd);
}

// The outcome of the constructor above: returns the state, and stores errno and the failing step.
__attribute__((visibility("default"))) int netisolator_helper_mount_namespace(int* error, int* step) {
    if (error != NULL) *error = entry_errno;
    if (step != NULL) *step = entry_step;
    return entry_state;
}
