/* The process-wide log sink: lines from the provider and from managed code go to whatever the host set. */
#ifndef NETISOLATOR_PROVIDER_LOG_H
#define NETISOLATOR_PROVIDER_LOG_H

#include <stdint.h>

void provider_log(int32_t level, const char* format, ...) __attribute__((format(printf, 2, 3)));

/* The function handed to managed code: the same sink, for UTF-8 text with a length. */
void provider_log_from_managed(int32_t level, const uint8_t* message, int32_t length);

#endif /* NETISOLATOR_PROVIDER_LOG_H */
