#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "netisolator/netisolator.h"

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static netiso_log_fn sink_fn;
static void* sink_context;

NETISO_API void netiso_set_log_sink(netiso_log_fn sink, void* context) {
    pthread_mutex_lock(&sink_lock);
    sink_fn = sink;
    sink_context = context;
    pthread_mutex_unlock(&sink_lock);
}

static void emit(int32_t level, const char* message, int32_t length) {
    pthread_mutex_lock(&sink_lock);
    netiso_log_fn fn = sink_fn;
    void* context = sink_context;
    pthread_mutex_unlock(&sink_lock);

    if (fn != NULL) {
        fn(context, level, message, length);
        return;
    }
    static const char* const names[] = {"debug", "info", "warning", "error"};
    const char* name = level >= 0 && level <= 3 ? names[level] : "log";
    fprintf(stderr, "netisolator %s: %.*s\n", name, (int)length, message);
}

void provider_log(int32_t level, const char* format, ...) {
    char line[2048];
    va_list args;
    va_start(args, format);
    int length = vsnprintf(line, sizeof line, format, args);
    va_end(args);
    if (length < 0) {
        return;
    }
    if (length >= (int)sizeof line) {
        length = (int)sizeof line - 1;
    }
    emit(level, line, length);
}

void provider_log_from_managed(int32_t level, const uint8_t* message, int32_t length) {
    emit(level, (const char*)message, length);
}
