/* Error texts handed across the C ABI: heap strings the caller releases with netiso_free (free()). */
#ifndef NETISOLATOR_PROVIDER_ERRORS_H
#define NETISOLATOR_PROVIDER_ERRORS_H

#include <stdint.h>

/* Sets *error (when error is not NULL) to a newly allocated formatted text. Returns -1 for `return set_error(..)`. */
int32_t set_error(char** error, const char* format, ...) __attribute__((format(printf, 2, 3)));

/* The symbolic name of a hosting status code (docs/design/features/host-error-codes.md), or "unknown". */
const char* host_status_name(int32_t status);

#endif /* NETISOLATOR_PROVIDER_ERRORS_H */
