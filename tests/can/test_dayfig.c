/* Tests of the rules every keeper of a pack's "today" import follows across that pack's reboots (alfa/dayfig.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "alfa/dayfig.h"

static void whole_figures_only_rise(void **state)
{
    (void)state;
    alfa_dayfig_t d = {0};
    assert_true(alfa_dayfig_report(&d, 500, false));
    assert_false(alfa_dayfig_report(&d, 400, false)); /* an older telemetry record, or a stale one */
    assert_int_equal(d.wh, 500);
    assert_false(alfa_dayfig_merge(&d, 450));
    assert_true(alfa_dayfig_merge(&d, 650));
    assert_int_equal(alfa_dayfig_answer(&d), 650);
}

static void since_boot_is_added_to_before(void **state)
{
    (void)state;
    alfa_dayfig_t d = {0};
    alfa_dayfig_report(&d, 2000, false);
    /* It booted, was away, and counted more since than before: the sum, not the larger. */
    assert_true(alfa_dayfig_report(&d, 3000, true));
    assert_int_equal(d.wh, 5000);
    assert_int_equal(alfa_dayfig_answer(&d), 2000); /* others get the base: no one counts 3000 twice */
    assert_true(alfa_dayfig_report(&d, 3100, true));
    assert_int_equal(d.wh, 5100);
    /* Another keeper knew more of before the boot: the base rises, the since-boot part stays. */
    assert_true(alfa_dayfig_merge(&d, 2200));
    assert_int_equal(d.wh, 5300);
    assert_false(alfa_dayfig_merge(&d, 2100));
    assert_int_equal(alfa_dayfig_answer(&d), 2200);
    /* Recovered: it reports the whole figure and the keeper takes it as one. */
    assert_false(alfa_dayfig_report(&d, 5300, false));
    assert_int_equal(alfa_dayfig_answer(&d), 5300);
    assert_true(alfa_dayfig_report(&d, 5400, false));
    assert_int_equal(d.wh, 5400);
}

static void second_boot_before_recovering_keeps_both(void **state)
{
    (void)state;
    alfa_dayfig_t d = {0};
    alfa_dayfig_report(&d, 1000, false);
    alfa_dayfig_report(&d, 800, true);   /* boot 1: 1000 before, 800 since */
    assert_int_equal(d.wh, 1800);
    alfa_dayfig_report(&d, 100, true);   /* fewer since boot than before: boot 2 */
    assert_int_equal(d.wh, 1900);
    assert_int_equal(alfa_dayfig_answer(&d), 1800);
    /* A keeper that first hears a pack recovering: all it had is before the boot. */
    alfa_dayfig_t e = {0};
    alfa_dayfig_merge(&e, 1800);         /* from an answer (the base) */
    alfa_dayfig_report(&e, 150, true);
    assert_int_equal(e.wh, 1950);
}

static void saturates_instead_of_wrapping(void **state)
{
    (void)state;
    alfa_dayfig_t d = {0};
    alfa_dayfig_report(&d, UINT32_MAX - 10u, false);
    alfa_dayfig_report(&d, 100, true);
    assert_int_equal(d.wh, UINT32_MAX);
    alfa_dayfig_merge(&d, UINT32_MAX);
    assert_int_equal(d.wh, UINT32_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_figures_only_rise),
        cmocka_unit_test(since_boot_is_added_to_before),
        cmocka_unit_test(second_boot_before_recovering_keeps_both),
        cmocka_unit_test(saturates_instead_of_wrapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
