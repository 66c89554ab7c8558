/* actions.c -- the state changes of the demo shop: add, set, inc, dec,
 * login, logout. Each validates everything before it changes anything,
 * so that a refused action leaves the session as it was; each may run
 * again on fresh state after a commit conflict, so none has effects
 * outside the visit. */
#include <stdio.h>
#include <string.h>

#include "../fcgi/throttle.h"
#include "view.h"

static int refuse(struct action *a, int status, const char *why)
{
    a->why = why;
    return status;
}

static int item_known(struct action *a)
{
    return catalog_item(&a->shop->catalog, a->form->id) != NULL;
}

static int act_add(struct visit *v, struct action *a)
{
    const struct nav_form *f = a->form;
    uint32_t qty = (f->seen & NAV_HAS_QTY) ? f->qty : 1;

    if (!(f->seen & NAV_HAS_ID))
        return refuse(a, 400, "Which dish? The form has no id.");
    if (qty < 1 || qty > SESSION_QTY_MAX)
        return refuse(a, 400, "Add between 1 and 99 of a dish.");
    if (!item_known(a))
        return refuse(a, 404, "Nothing on the menu has that number.");
    if (visit_ensure(v, a->now) != VISIT_OK)
        return refuse(a, 503, "No session could be made; please try again.");
    if (cart_add(&v->s, f->id, qty) < 0)
        return refuse(a, 409, "A cart holds at most 64 different dishes.");
    a->next = (struct nav_link){.pg = "Cart"};
    return 303;
}

static int act_set(struct visit *v, struct action *a)
{
    const struct nav_form *f = a->form;

    if (!(f->seen & NAV_HAS_ID) || !(f->seen & NAV_HAS_QTY))
        return refuse(a, 400, "Setting a quantity needs an id and a qty.");
    if (f->qty > SESSION_QTY_MAX)
        return refuse(a, 400, "A quantity is between 0 and 99.");
    if (!item_known(a))
        return refuse(a, 404, "Nothing on the menu has that number.");
    a->next = (struct nav_link){.pg = "Cart"};
    /* Removing from a cart that does not exist is already done. */
    if (f->qty == 0 && !v->live)
        return 303;
    if (visit_ensure(v, a->now) != VISIT_OK)
        return refuse(a, 503, "No session could be made; please try again.");
    if (cart_set(&v->s, f->id, f->qty) < 0)
        return refuse(a, 409, "A cart holds at most 64 different dishes.");
    return 303;
}

static int act_count(struct visit *v, struct action *a, int step)
{
    if (visit_ensure(v, a->now) != VISIT_OK)
        return refuse(a, 503, "No session could be made; please try again.");
    /* Saturate rather than wrap: the counter is a toy, not a bug farm. */
    if ((step > 0 && v->s.counter < INT64_MAX) || (step < 0 && v->s.counter > INT64_MIN))
        v->s.counter += step;
    v->s.dirty = 1;
    a->next = (struct nav_link){.pg = "Counter"};
    return 303;
}

/* The failed-login counts live in RUNDIR/throttle, shared by every
 * worker; mapped at the first login a process sees. Without them logins
 * are refused rather than left unthrottled. */
static int throttle_ready(const struct action *a)
{
    const struct shop_config *cfg = &a->shop->cfg;
    struct throttle_policy p = {(unsigned)cfg->login_failures,
                                (unsigned)cfg->login_lockout};
    char path[4096];
    enum throttle_err err;

    if (throttle_is_open())
        return 1;
    if (snprintf(path, sizeof path, "%s/throttle", cfg->rundir) >= (int)sizeof path)
        return 0;
    if ((err = throttle_open(path, &p)) != THROTTLE_OK) {
        request_log(a->req, "nori: logins refused: %s: %s", path, throttle_strerror(err));
        return 0;
    }
    return 1;
}

/* A fresh key on login, so that a key known before it (a fixation
 * attempt) is worth nothing after. A failed login changes nothing here;
 * action_done counts it. A name or address with too many recent
 * failures is not even checked: the password hash is not computed. */
static int act_login(struct visit *v, struct action *a)
{
    const struct nav_form *f = a->form;

    if (!(f->seen & NAV_HAS_USER) || !(f->seen & NAV_HAS_PASSWORD))
        return refuse(a, 400, "Logging in needs a user and a password.");
    if (!throttle_ready(a))
        return refuse(a, 503, "Logging in is not possible right now; please try again later.");
    a->retry_after = throttle_wait(f->user, a->req->remote_addr, a->now);
    if (a->retry_after > 0)
        return refuse(a, 429, "Too many failed logins for this user or from this "
                              "address; please wait a while and try again.");
    if (!users_check(&a->shop->users, f->user, f->password)) {
        a->login_failed = 1;
        return refuse(a, 400, "Unknown user or wrong password.");
    }
    if (visit_ensure(v, a->now) != VISIT_OK || visit_rotate(v) != VISIT_OK)
        return refuse(a, 503, "No session could be made; please try again.");
    memcpy(v->s.user, f->user, sizeof v->s.user);
    v->s.dirty = 1;
    a->login_ok = 1;
    a->next = (struct nav_link){.pg = "Home"};
    return 303;
}

int action_apply(struct visit *v, void *arg)
{
    struct action *a = arg;
    const struct nav_form *f = a->form;

    a->why = NULL;
    a->login_failed = a->login_ok = 0;
    a->retry_after = 0;
    if (!visit_form_ok(v, f->k))
        return refuse(a, 403, "This form is not from your session (or it is "
                              "too old); nothing was changed. Reload the page "
                              "and try again.");
    if (!(f->seen & NAV_HAS_ACT))
        return refuse(a, 400, "The form says no action.");
    if (strcmp(f->act, "add") == 0)
        return act_add(v, a);
    if (strcmp(f->act, "set") == 0)
        return act_set(v, a);
    if (strcmp(f->act, "inc") == 0)
        return act_count(v, a, 1);
    if (strcmp(f->act, "dec") == 0)
        return act_count(v, a, -1);
    if (strcmp(f->act, "login") == 0)
        return act_login(v, a);
    if (strcmp(f->act, "logout") == 0) {
        visit_end(v);
        a->next = (struct nav_link){.pg = "Home"};
        return 303;
    }
    return refuse(a, 400, "There is no such action.");
}

/* The user name passed the form grammar (no control characters), so it
 * cannot forge a log line; the password is never logged. */
void action_done(struct action *a, int status)
{
    const char *user = a->form->user, *addr = a->req->remote_addr;
    unsigned wait;

    if (a->login_failed) {
        wait = throttle_fail(user, addr, a->now);
        request_log(a->req, "nori: login failed for user '%s' from %s%s", user,
                    addr[0] ? addr : "(no address)",
                    wait ? "; further attempts wait" : "");
    } else if (status == 429) {
        request_log(a->req, "nori: login refused for user '%s' from %s: too many "
                    "failures, %u s to wait", user, addr[0] ? addr : "(no address)",
                    a->retry_after);
    } else if (a->login_ok && status < 400) {
        throttle_forget_user(user);
    }
}
