/* alfaspark-gateway --check-config: the configuration, then the machine and the broker as the service will meet them. */
#include "gw_check.h"

#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint32_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail: a clock Linux always has, a valid pointer */
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

static void on_connect(struct mosquitto *m, void *user, int rc)
{
    (void)m;
    *(int *)user = rc;
}

/* --check-config beyond the file: the broker answers and accepts our login. A client ID of its own,
 * so that the running daemon is not pushed off the broker (which would publish its Last Will). */
static void check_broker(gw_config_t *c)
{
    char id[GW_CFG_STR + 8];
    snprintf(id, sizeof id, "%.200s-check", c->mqtt_client_id);
    struct mosquitto *m = mosquitto_new(id, true, NULL);
    if (m == NULL) {
        gw_config_error(c, "mqtt: cannot create an MQTT client (out of memory)");
        return;
    }
    int connack = -1;
    mosquitto_user_data_set(m, &connack);
    mosquitto_connect_callback_set(m, on_connect);
    int rc = mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, c->mqtt_protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    if (rc == MOSQ_ERR_SUCCESS && c->mqtt_username[0]) {
        rc = mosquitto_username_pw_set(m, c->mqtt_username, c->mqtt_password[0] ? c->mqtt_password : NULL);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        gw_config_error(c, "mqtt: the client refuses these settings: %s", mosquitto_strerror(rc));
        mosquitto_destroy(m);
        return;
    }
    if (c->tls) {
        rc = mosquitto_tls_set(m, c->tls_ca_file[0] ? c->tls_ca_file : NULL, c->tls_ca_path[0] ? c->tls_ca_path : NULL,
                                   c->tls_cert_file[0] ? c->tls_cert_file : NULL, c->tls_key_file[0] ? c->tls_key_file : NULL,
                                   NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            gw_config_error(c, "tls: the client cannot use these files: %s\n  fix: check tls.ca_file, cert_file and key_file",
                            mosquitto_strerror(rc));
            mosquitto_destroy(m);
            return;
        }
        rc = mosquitto_tls_insecure_set(m, c->tls_insecure != 0);
        if (rc != MOSQ_ERR_SUCCESS) {
            gw_config_error(c, "tls: the client refuses tls.insecure: %s", mosquitto_strerror(rc));
            mosquitto_destroy(m);
            return;
        }
    }
    rc = mosquitto_connect_async(m, c->mqtt_host, c->mqtt_port, 10);
    int err = errno;
    uint32_t t0 = mono_ms();
    while (rc == MOSQ_ERR_SUCCESS && connack < 0 && mono_ms() - t0 < 3000u) {
        rc = mosquitto_loop(m, 50, 1);
        err = errno;
    }
    if (connack < 0) {
        gw_config_error(c,
                        "mqtt: no broker answers at %s:%d (%s)\n  fix: is Mosquitto running (`systemctl status mosquitto`)? "
                        "Are mqtt.host and mqtt.port those of its listener?",
                        c->mqtt_host, c->mqtt_port,
                        rc == MOSQ_ERR_ERRNO ? strerror(err) : rc == MOSQ_ERR_SUCCESS ? "no answer within 3 s" : mosquitto_strerror(rc));
    } else if (connack != 0) {
        gw_config_error(c,
                        "mqtt: the broker at %s:%d refused the login of user \"%s\": %s\n  fix: the password (mqtt.password_file) "
                        "must be the one of this user in the broker's password file: `mosquitto_passwd -b "
                        "/etc/mosquitto/alfaspark.passwd %s PASSWORD` then `systemctl reload mosquitto`",
                        c->mqtt_host, c->mqtt_port, c->mqtt_username[0] ? c->mqtt_username : "(none)",
                        mosquitto_connack_string(connack), c->mqtt_username[0] ? c->mqtt_username : "USER");
    } else if ((rc = mosquitto_disconnect(m)) != MOSQ_ERR_SUCCESS) {
        /* The login was checked; only the goodbye failed: the broker drops the check's client. */
        fprintf(stderr, "alfaspark-gateway: note: the check's disconnect from the broker failed: %s\n", mosquitto_strerror(rc));
    }
    mosquitto_destroy(m);
}

int gw_check_config(gw_config_t *c, const char *config, int syntax_only)
{
    if (!syntax_only) {
        /* Each returns the count of problems so far, all of them in c->errors: checked below. */
        gw_config_require_site(c);
        gw_config_read_password(c);
        gw_config_check_env(c);
        int rc = mosquitto_lib_init();
        if (rc == MOSQ_ERR_SUCCESS) {
            check_broker(c);
        } else {
            gw_config_error(c, "mqtt: the MQTT library cannot start: %s", mosquitto_strerror(rc));
        }
        (void)mosquitto_lib_cleanup(); /* always MOSQ_ERR_SUCCESS (mosquitto.h): a value, not an error */
    }
    const char *what = syntax_only ? "configuration syntax" : "configuration";
    if (c->n_errors) {
        fprintf(stderr, "alfaspark-gateway: %s%s%s has %d problem(s):\n%s", what, config ? " of " : "", config ? config : "",
                c->n_errors, c->errors);
    } else {
        printf("%s OK: site %s, CAN %s, broker %s:%d (MQTT %s%s)\n", what, c->core.site[0] ? c->core.site : "(not set)", c->can, c->mqtt_host,
               c->mqtt_port, c->mqtt_protocol == 5 ? "5" : "3.1.1", c->tls ? ", TLS" : "");
    }
    if (!syntax_only && geteuid() == 0) {
        printf("note: checked as root; the service runs as user alfaspark: `runuser -u alfaspark -- alfaspark-gateway "
               "--check-config%s%s` checks with its rights\n", config ? " --config " : "", config ? config : "");
    }
    return c->n_errors ? 1 : 0;
}

