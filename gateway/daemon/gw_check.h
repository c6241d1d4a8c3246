/* alfaspark-gateway --check-config (gw_check.c): every check of the configuration, the machine and the broker. */
#ifndef ALFA_GW_CHECK_H
#define ALFA_GW_CHECK_H

#include "alfa/gw_config.h"

/*
 * `c` is loaded and gw_config_finish()ed. Unless `syntax_only`: the site must be named, the
 * password file is read, every option naming something on the machine is checked
 * (gw_config_check_env) and the broker must answer and accept the login, with a client ID of its
 * own so that a running gateway is not pushed off. Prints "... OK" on stdout or every problem on
 * stderr; `config` (or NULL) names the file in the messages. Returns the exit status: 0 usable, 1 not.
 */
int gw_check_config(gw_config_t *c, const char *config, int syntax_only);

#endif
