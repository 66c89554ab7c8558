/* actions.c -- the state changes of the demo shop: add, set, inc, dec,
 * login, logout. Each validates everything before it changes anything,
 * so that a refused action leaves the session as it was; each may run
 * again on fresh state after a commit conflict, so none has effects
 * outside the visit. */
#include <string.h>

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

/* A fresh key on login, so that a key known before it (a fixation
 * attempt) is worth nothing after. A failed login changes nothing. */
static int act_login(struct visit *v, struct action *a)
{
    const struct nav_form *f = a->form;

    if (!(f->seen & NAV_HAS_USER) || !(f->seen & NAV_HAS_PASSWORD))
        return refuse(a, 400, "Logging in needs a user and a password.");
    if (!users_check(&a->shop->users, f->user, f->password)) {
        a->login_failed = 1;
        return refuse(a, 400, "Unknown user or wrong password.");
    }
    if (visit_ensure(v, a->now) != VISIT_OK || visit_rotate(v) != VISIT_OK)
        return refuse(a, 503, "No session could be made; please try again.");
    memcpy(v->s.user, f->user, sizeof v->s.user);
    v->s.dirty = 1;
    a->next = (struct nav_link){.pg = "Home"};
    return 303;
}

int action_apply(struct visit *v, void *arg)
{
    struct action *a = arg;
    const struct nav_form *f = a->form;

    a->why = NULL;
    a->login_failed = 0;
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
