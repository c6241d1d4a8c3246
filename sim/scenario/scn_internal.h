/* Functions shared between the scenario parser and the expectation engine (not public). */
#ifndef ALFA_SCN_INTERNAL_H
#define ALFA_SCN_INTERNAL_H

#include <stdint.h>

#include "alfa/scenario.h"

/* 1 if `text` is exactly one syntactically valid JSON object (whitespace around allowed). */
int alfa_scn_json_object_ok(const char *text);

/* 1 if `name` is a command the gateway accepts. */
int alfa_scn_command_known(const char *name);

/* Parse a value written for field `f` (integers, hex, mode names, on/off, ack result names). */
int alfa_scn_field_value(const alfa_scn_field_t *f, const char *text, int64_t *out);

#endif
