/* test_config.c -- the settings engine (nori/config.c) with a table far
 * longer than getopt's values below 256: an application of 60 settings,
 * its last flag applied, an unknown flag refused as a bad command line
 * with one line naming it (issue 19: row 58 used to be ':', and the
 * unknown flag crashed). */
#include <check.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nori/config.h"

#define MANY 60

static struct {
    unsigned long v[MANY];
} many;
static struct nori_setting rows[MANY];
static char envs[MANY][24], flags[MANY][16];
static struct nori_app app = {.name = "many"};

static void app_many(void)
{
    for (int i = 0; i < MANY; i++) {
        snprintf(envs[i], sizeof envs[i], "MANY_S%d", i);
        snprintf(flags[i], sizeof flags[i], "s%d", i);
        rows[i] = (struct nori_setting){envs[i], flags[i], NORI_SET_NUM,
                                        offsetof(__typeof__(many), v) + i * sizeof(unsigned long),
                                        "1", 0, 100, NULL, "a setting"};
    }
    app.settings = rows;
    app.nsettings = MANY;
    app.config = &many;
}

static enum config_err load(char **argv, int argc, char *err, size_t errlen)
{
    static struct nori_config cfg;
    char dir[] = "/tmp/nori-config.XXXXXX";

    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("NORI_RUNDIR", dir, 1);
    optind = 0;         /* getopt starts afresh for each call */
    return config_load(&cfg, &app, argc, argv, err, errlen);
}

START_TEST(sixty_settings_each_flag_its_own)
{
    char err[256] = "", a0[] = "nori", a1[] = "--s59=7", a2[] = "--s57=3";
    char *argv[] = {a0, a1, a2, NULL};

    app_many();
    ck_assert_int_eq(load(argv, 3, err, sizeof err), CONFIG_OK);
    ck_assert_uint_eq(many.v[59], 7);
    ck_assert_uint_eq(many.v[57], 3);
    ck_assert_uint_eq(many.v[58], 1);
}
END_TEST

START_TEST(sixty_settings_unknown_flag_is_usage)
{
    char err[256] = "", a0[] = "nori", a1[] = "--s59=7", a2[] = "--bogus=1";
    char *argv[] = {a0, a1, a2, NULL};

    app_many();
    ck_assert_int_eq(load(argv, 3, err, sizeof err), CONFIG_EUSAGE);
    ck_assert_msg(strstr(err, "--bogus") != NULL, "%s", err);
    ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("many settings");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, sixty_settings_each_flag_its_own);
    tcase_add_test(tc, sixty_settings_unknown_flag_is_usage);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
