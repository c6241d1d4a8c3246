/* alfaspark-pack --check-config on the machine: serial, BMS adapter, CAN interface, flash file and GPIO lines, each problem with a fix. */
#include <errno.h>
#include <gpiod.h>
#include <string.h>

#include "alfa/envcheck.h"
#include "pack_config.h"

static int report(FILE *err, const char *what, const alfa_env_problem_t *p)
{
    fprintf(err, "%s: %s\n  fix: %s\n", what, p->why, p->fix);
    return 1;
}

static int check_gpio(const pack_config_t *c, FILE *err)
{
    if (c->gpio_chip[0] == '\0') {
        return 0; /* relays and LEDs are only logged: nothing to check */
    }
    struct gpiod_chip *chip = gpiod_chip_open_lookup(c->gpio_chip);
    if (chip == NULL) {
        fprintf(err, "[gpio] chip: %s cannot be opened (%s)\n  fix: `gpiodetect` lists the chips; use one of "
                     "their names (gpiochip0) or labels\n", c->gpio_chip, strerror(errno));
        return 1;
    }
    int problems = 0;
    unsigned n = gpiod_chip_num_lines(chip);
    static const char *const what[7] = {"relay grid", "relay inverter", "relay pool", "relay heater",
                                        "green LED",  "yellow LED",     "red LED"};
    for (int i = 0; i < 7; i++) {
        int32_t off = i < 4 ? c->relay_lines[i] : c->led_lines[i - 4];
        if (off < 0) {
            continue;
        }
        if ((unsigned)off >= n) {
            fprintf(err, "[gpio] %s: line %d does not exist on %s (it has %u lines)\n  fix: `gpioinfo %s` lists "
                         "them\n", what[i], (int)off, c->gpio_chip, n, c->gpio_chip);
            problems++;
            continue;
        }
        struct gpiod_line *l = gpiod_chip_get_line(chip, (unsigned)off);
        if (l != NULL && gpiod_line_is_used(l)) {
            const char *by = gpiod_line_consumer(l);
            fprintf(err, "[gpio] %s: line %d of %s is in use by %s\n  fix: free it (stop that program, or the "
                         "kernel driver claiming it) or wire another line\n", what[i], (int)off, c->gpio_chip,
                    by != NULL ? by : "another program or driver");
            problems++;
        }
    }
    gpiod_chip_close(chip);
    return problems;
}

int pack_check_env(const pack_config_t *c, FILE *err)
{
    int problems = 0;
    alfa_env_problem_t p = {"", ""};
    if (c->serial == PACKCFG_SAMPLE_SERIAL) {
        fprintf(err, "[pack] serial: 0x%012llX is the sample value of pack.ini.example\n  fix: set this pack's own "
                     "48-bit serial (on the controller's label); two packs with one serial fight over one node "
                     "ID\n", (unsigned long long)c->serial);
        problems++;
    }
    if (c->bms_device[0] != '\0' && alfa_env_check_serial(c->bms_device, "RS-485 adapter of the BMS", &p) != ALFA_PORT_OK) {
        problems += report(err, "[bms] device", &p);
    }
    if (c->can_interface[0] != '\0' && alfa_env_check_can(c->can_interface, &p) != ALFA_PORT_OK) {
        problems += report(err, "[can] interface", &p);
    }
    if (c->flash_path[0] != '\0' &&
        alfa_env_check_file_writable(c->flash_path, (uint64_t)c->flash_block_size * c->flash_blocks, &p) != ALFA_PORT_OK) {
        problems += report(err, "[pack] flash", &p);
    }
    return problems + check_gpio(c, err);
}
