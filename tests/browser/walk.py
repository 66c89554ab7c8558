#!/usr/bin/python3
"""walk.py -- a person's walk through the shop in a real, headless Chromium.

    /usr/bin/python3 tests/browser/walk.py --base http://127.0.0.1:PORT \
        --out build/browser --profiles DIR

Driven by Debian's chromium-driver through python3-selenium (call
/usr/bin/python3: a pyenv python3 does not see Debian's packages). Every
step is a click, a form filled in, or a URL typed, as a person would do
it; every page is checked, screenshot into --out, and its browser console
and network log searched: any console error, CSP violation or failed or
4xx/5xx resource load fails the walk. At the end, two deliberate faults
(a missing image, an image from another origin) must be reported by that
same machinery, or the walk fails too: a log reader that sees nothing
proves nothing.

Prints one line per check and ends with "walk: N checks passed, M
failed"; with --counts FILE also writes "N M" there, for the suite to add
to its own. Exits 0 only when nothing failed. Browsers quit in every
case.
"""
import argparse
import concurrent.futures
import json
import os
import signal
import sys
import traceback
import urllib.parse

from selenium import webdriver
from selenium.common.exceptions import (NoSuchElementException,
                                        StaleElementReferenceException,
                                        TimeoutException, WebDriverException)
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Generous: the machine is shared and a first Chromium start is slow.
DEADLINE = 60
# No network beyond loopback, no background traffic, nothing that would
# write to the console on its own.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1024,900"]

ALL_LINKS = "return Array.from(document.querySelectorAll('a[href]'), a => a.href)"
ALL_FORMS = """return Array.from(document.forms, f => ({
    action: f.action, method: f.method,
    s: Array.from(f.querySelectorAll('input[name=_s]'), i => i.value)}))"""


class Failed(Exception):
    """A check that must stop the walk: later steps depend on it."""


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
            print(f"  ok: {what}")
        else:
            self.failed += 1
            print(f"  FAIL: {what}")
        return ok

    def require(self, ok, what):
        if not self.check(ok, what):
            raise Failed(what)


class Browser:
    """One Chromium with its own fresh profile, and what its logs said."""

    def __init__(self, name, profile, out, base):
        self.name, self.out, self.base = name, out, base
        self.errors = []        # console errors and failed loads, not yet judged
        self.responses = []     # (url, status) of every response seen
        self.urls = {}          # requestId -> URL, to name a failed load
        opts = Options()
        opts.binary_location = CHROMIUM
        for f in FLAGS + [f"--user-data-dir={profile}"]:
            opts.add_argument(f)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        # Start on about:blank: Debian's default first tab is the new tab
        # page, which tries Google (a failed load, logged) and may navigate
        # over the first page the walk opens.
        opts.add_experimental_option("prefs", {"session.restore_on_startup": 4,
                                               "session.startup_urls": ["about:blank"]})
        service = Service(CHROMEDRIVER, log_path=profile + ".driver.log")
        self.driver = webdriver.Chrome(service=service, options=opts)
        self.driver.set_page_load_timeout(DEADLINE)
        # A condition read while the old page is being replaced may find
        # its elements gone: that is "not yet", not a failure.
        self.wait = WebDriverWait(self.driver, DEADLINE, ignored_exceptions=(
            NoSuchElementException, StaleElementReferenceException))

    def quit(self):
        """Quits Chromium and chromedriver; again is a no-op."""
        if self.driver is None:
            return
        driver, self.driver = self.driver, None
        try:
            driver.quit()
        except WebDriverException as e:
            print(f"  ({self.name}: quit: {e.msg})")

    # -- logs ------------------------------------------------------------
    def poll(self):
        """Moves what the browser logged since the last poll into errors
        and responses."""
        for e in self.driver.get_log("browser"):
            if e["level"] == "SEVERE" or "Content Security Policy" in e["message"]:
                self.errors.append(f"console: {e['message']}")
        for e in self.driver.get_log("performance"):
            self._network(json.loads(e["message"])["message"])

    def _network(self, m):
        p = m.get("params", {})
        if m["method"] == "Network.requestWillBeSent":
            self.urls[p["requestId"]] = p["request"]["url"]
        elif m["method"] == "Network.responseReceived":
            r = p["response"]
            self.responses.append((r["url"], r["status"]))
            if r["status"] >= 400:
                self.errors.append(f"network: {r['status']} {r['url']}")
        elif m["method"] == "Network.loadingFailed":
            why = p.get("blockedReason") or p.get("errorText")
            url = self.urls.get(p.get("requestId"), "?")
            self.errors.append(f"network: {p.get('type', '?')} {url} failed: {why}")

    def take_errors(self):
        self.poll()
        errs, self.errors = self.errors, []
        return errs

    # -- pages -----------------------------------------------------------
    def loaded(self):
        """Waits for the page, its stylesheet included, to be complete."""
        self.wait.until(lambda d: d.execute_script("return document.readyState") == "complete")

    def visit(self, url):
        """Types url (a path below --base, or a whole URL) and waits for it."""
        self.driver.get(url if "://" in url else self.base + url)
        self.loaded()

    def click(self, xpath, until, what):
        """Clicks the element and waits for until(driver) to hold."""
        self.driver.find_element(By.XPATH, xpath).click()
        try:
            self.wait.until(until)
        except TimeoutException:
            raise Failed(f"{self.name}: {what}: nothing happened within {DEADLINE} s"
                         f" (at {self.driver.current_url}; logs: {self.take_errors()})")
        self.loaded()

    def text(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css).text

    def shot(self, name):
        path = os.path.join(self.out, f"{name}.png")
        self.driver.save_screenshot(path)
        return path

    def app_links(self):
        """Every link into the app (path /shop...), as the browser resolved it."""
        return [u for u in self.driver.execute_script(ALL_LINKS)
                if urllib.parse.urlsplit(u).path.startswith("/shop")]

    def forms(self):
        return self.driver.execute_script(ALL_FORMS)

    def cookies(self):
        """Every cookie the browser holds, whatever its path or HttpOnly
        (WebDriver's own list shows only those the page would send)."""
        return self.driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]


def key_of(url):
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    return q.get("_s", [None])[0]


def page_clean(r, b, name):
    """The page's logs are clean; then a screenshot of it."""
    errs = b.take_errors()
    for e in errs:
        r.check(False, f"{name}: {e}")
    if not errs:
        r.check(True, f"{name}: no console error, CSP violation or failed load")
    print(f"  screenshot: {b.shot(name)}")


def sessionless(r, b, name):
    jar = b.cookies()
    r.check(jar == [], f"{name}: no cookie set {[c['name'] for c in jar]}")
    links, forms = b.app_links(), b.forms()
    r.check(len(links) > 5, f"{name}: has links into the app ({len(links)})")
    bad = [u for u in links if key_of(u)] + \
          [f["action"] for f in forms if f["s"] or "_s=" in f["action"]]
    r.check(not bad, f"{name}: no _s in any link or form {bad[:3]}")


def session_bearing(r, b, name):
    """Every link and form carries the one live key, last in each URL."""
    links, forms = b.app_links(), b.forms()
    keys = {key_of(u) for u in links} | {k for f in forms for k in f["s"]}
    r.check(len(keys) == 1 and None not in keys and all(f["s"] for f in forms),
            f"{name}: _s in every link and form, one key ({len(links)} links, "
            f"{len(forms)} forms)")
    r.check(all(u.rsplit("&", 1)[-1].startswith("_s=") for u in links),
            f"{name}: _s last in every link")
    return next(iter(keys)) if len(keys) == 1 else None


def count_is(css, n):
    def ok(d):
        els = d.find_elements(By.CSS_SELECTOR, css)
        return bool(els) and els[0].text == str(n)
    return ok


def walk(r, a, second):
    """The shopper's walk, in one browser (a), and a second one (a future:
    it starts while the first walks) for the pasted Cart URL."""
    a.visit("/shop")
    r.require(a.driver.title.startswith("Home"), "home: title")
    sessionless(r, a, "home")
    page_clean(r, a, "home")

    a.click("(//ul[@class='items']//a)[1]",
            lambda d: "pg=Item" in d.current_url, "click a featured dish")
    dish = a.text("article.item h1")
    r.check(bool(dish), f"item: a dish named '{dish}'")
    sessionless(r, a, "item")
    page_clean(r, a, "item")

    a.click("//form[@class='add']//button", lambda d: "pg=Cart" in d.current_url,
            "Add to cart")
    r.check(a.text("#cart-count") == "1", "cart: cart-count is 1")
    r.check(dish in a.text("table.cart"), f"cart: lists {dish}")
    r.check(any(c["name"] == "nori_b" and c["httpOnly"] for c in a.cookies()),
            "cart: the nori_b binding cookie, HttpOnly")
    key = session_bearing(r, a, "cart")
    r.require(key is not None and key_of(a.driver.current_url) == key,
              "cart: the address bar carries the same _s")
    cart_url = a.driver.current_url
    page_clean(r, a, "cart")

    a.click("//nav[@class='site']/a[text()='Counter']",
            lambda d: "pg=Counter" in d.current_url, "click Counter")
    r.check(a.text("#count") == "0", "counter: starts at 0")
    for n in (1, 2):
        a.click("//form[.//button[text()='++']]//button", count_is("#count", n), f"++ to {n}")
    r.check(a.text("#count") == "2", "counter: ++ twice shows 2")
    r.check(session_bearing(r, a, "counter") == key, "counter: the same session")
    page_clean(r, a, "counter")

    other(r, second.result(), cart_url)

    a.click("//nav[@class='site']/a[text()='Login']",
            lambda d: "pg=Login" in d.current_url, "click Login")
    page_clean(r, a, "login")
    a.driver.find_element(By.NAME, "user").send_keys("demo")
    a.driver.find_element(By.NAME, "password").send_keys("nori-demo")
    a.click("//form[@class='login']//button",
            lambda d: d.find_elements(By.XPATH, "//form[@class='logout']//button"),
            "log in as demo")
    r.check("demo" in a.text("form.logout button"), "logged in: Log out demo is shown")
    r.check(not a.driver.find_elements(By.XPATH, "//nav[@class='site']/a[text()='Login']"),
            "logged in: no Login link")
    r.check(a.text("#cart-count") == "1", "logged in: the cart is kept (cart-count 1)")
    new_key = session_bearing(r, a, "logged-in")
    r.check(new_key is not None and new_key != key, "logged in: a fresh session key")
    page_clean(r, a, "logged-in")

    a.click("//form[@class='logout']//button",
            lambda d: d.find_elements(By.XPATH, "//nav[@class='site']/a[text()='Login']"),
            "log out")
    r.check(a.text("#cart-count") == "0", "logged out: the cart is empty")
    r.check(not a.driver.find_elements(By.CSS_SELECTOR, "form.logout"),
            "logged out: no Log out button")
    page_clean(r, a, "logged-out")
    a.visit(cart_url.replace(key, new_key))
    r.check(a.text("#cart-count") == "0" and a.driver.find_elements(By.CSS_SELECTOR, "p.empty"),
            "logged out: the logged-in session's Cart URL shows an empty cart")
    page_clean(r, a, "logged-out-cart")


def other(r, b, cart_url):
    """The Cart URL pasted into another browser: the session stays home."""
    try:
        b.visit(cart_url)
        r.check(b.text("#cart-count") == "0", "pasted cart: cart-count is 0")
        r.check(bool(b.driver.find_elements(By.CSS_SELECTOR, "p.empty")),
                "pasted cart: 'Your cart is empty'")
        r.check(not any(key_of(u) for u in b.app_links()), "pasted cart: no _s in its links")
        r.check(b.cookies() == [], "pasted cart: no cookie set (nothing created)")
        page_clean(r, b, "cart-pasted")
    finally:
        b.quit()


def teeth(r, a, port):
    """Faults the walk must notice, each in the console and in the network
    log: a missing image (404), and an image from another origin (blocked
    by the CSP's img-src 'self'; localhost is not 127.0.0.1's origin).
    Injected through WebDriver, which the page's CSP does not govern; the
    page itself runs no script."""
    a.visit("/shop?pg=Item&id=26")
    for e in a.take_errors():
        r.check(False, f"item, before the faults: {e}")
    faults = ((f"/static/no-such-{os.getpid()}.png", "404", "network: 404"),
              (f"http://localhost:{port}/static/favicon.ico",
               "Content Security Policy", "failed: csp"))
    for src, console, network in faults:
        a.driver.execute_script(
            "var i = document.createElement('img'); i.src = arguments[0];"
            "document.body.appendChild(i);", src)
        seen = []

        def both(_):
            seen.extend(a.take_errors())
            return (any(e.startswith("console:") and console in e for e in seen) and
                    any(network in e for e in seen))
        try:
            a.wait.until(both)
            ok = True
        except TimeoutException:
            ok = False
        r.check(ok, f"teeth: console and network log report a fault ({src}): {seen}")


def favicon_seen(r, a):
    """The browser asked for the icon the pages link, and got it."""
    try:
        a.wait.until(lambda d: a.poll() or any(
            u.endswith("/static/favicon.ico") and s == 200 for u, s in a.responses))
        ok = True
    except TimeoutException:
        ok = False
    r.check(ok, "favicon: the browser fetched /static/favicon.ico with 200")
    for e in a.take_errors():
        r.check(False, f"late: {e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--out", required=True, help="directory for the screenshots")
    ap.add_argument("--profiles", required=True, help="directory for fresh profiles")
    ap.add_argument("--counts", help="file to write 'passed failed' into")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    # SIGTERM (a suite timing out) unwinds through the finally below, so
    # that Chromium and chromedriver are quit, not orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    port = urllib.parse.urlsplit(args.base).port
    r = Report()
    a = None
    # The second browser starts beside the first: a Chromium start is most
    # of the walk's time on a busy machine.
    pool = concurrent.futures.ThreadPoolExecutor(1)
    second = pool.submit(Browser, "second browser", os.path.join(args.profiles, "second"),
                         args.out, args.base)
    try:
        a = Browser("browser", os.path.join(args.profiles, "first"), args.out, args.base)
        walk(r, a, second)
        favicon_seen(r, a)
        teeth(r, a, port)
    except Failed as e:
        r.check(False, f"the walk stopped: {e}")
    except WebDriverException as e:
        where = [f"{f.name}:{f.lineno}" for f in traceback.extract_tb(e.__traceback__)
                 if f.filename == __file__]
        r.check(False, f"WebDriver, at {' < '.join(reversed(where))}: {e.msg}")
    finally:
        if a:
            a.quit()
        if second.exception() is None:  # waits for a start still under way
            second.result().quit()
        pool.shutdown()
    print(f"  walk: {r.passed} checks passed, {r.failed} failed")
    if args.counts:
        with open(args.counts, "w") as f:
            f.write(f"{r.passed} {r.failed}\n")
    return 0 if r.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
