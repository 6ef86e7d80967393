"""Drives the example web client (examples/web/, served by the twin at /app/) in headless
Chromium through WebDriver, as its user would: sign in at the Hosted UI, create an item, see it
listed with its apigw-requestid, send a blank name, have the ID token refreshed, sign out.

Prints what the page showed as one JSON document on stdout, for local/tests/twin/web_app.rs to
check against the twin. No token is printed: the test output is scanned for secrets.
"""

import argparse
import json
import sys
import tempfile
import time
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import (
    JavascriptException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

# The window the screenshot is taken at; the headless flags come from the Rust test.
WINDOW = "--window-size=1200,1000"
# The longest wait for one step: a page that never gets there fails the run, not hangs it.
STEP_SECONDS = 30
# What a look at a page that is being replaced (a redirect under way) can raise: look again.
NAVIGATING = (JavascriptException, NoSuchElementException, StaleElementReferenceException)


def wait_for(driver, what, condition):
    try:
        return WebDriverWait(driver, STEP_SECONDS, ignored_exceptions=NAVIGATING).until(condition)
    except TimeoutException:
        sys.exit(f"web_app.py: {what} did not happen within {STEP_SECONDS} s at {driver.current_url}:\n"
                 f"{driver.find_element(By.TAG_NAME, 'body').text}")


def state(driver):
    return driver.execute_script("return document.body && document.body.dataset.state")


def stored_tokens(driver):
    return driver.execute_script("return JSON.parse(sessionStorage.getItem('items-app.tokens'))")


def answers(driver):
    """The answers list, newest first: method, path, status and apigw-requestid."""
    return [
        {
            "method": li.get_attribute("data-method"),
            "path": li.get_attribute("data-path"),
            "status": int(li.get_attribute("data-status")),
            "request_id": li.find_element(By.CSS_SELECTOR, "code").get_attribute("data-request-id"),
        }
        for li in driver.find_elements(By.CSS_SELECTOR, "#answers li")
    ]


def row_of(driver, name):
    for row in driver.find_elements(By.CSS_SELECTOR, "#items tbody tr"):
        cells = row.find_elements(By.TAG_NAME, "td")
        if cells and cells[0].text == name:
            return row
    return None


def sign_in_at_hosted_ui(driver, user):
    """On the Hosted UI's sign-in page: fill the form and submit it."""
    field = wait_for(driver, "the sign-in form", lambda d: d.find_elements(By.NAME, "username"))[0]
    page = urlsplit(driver.current_url)
    field.send_keys(user)
    field.find_element(By.XPATH, "ancestor::form").find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    return page.path


def refresh_token_answer(driver, auth_domain, client_id, refresh_token):
    """What the token endpoint answers to `refresh_token` now: the status and RFC 6749 error."""
    return driver.execute_async_script(
        """
        const [authDomain, clientId, token, done] = arguments;
        fetch(`${authDomain}/oauth2/token`, {
          method: "POST",
          headers: {"Content-Type": "application/x-www-form-urlencoded"},
          body: new URLSearchParams({grant_type: "refresh_token", client_id: clientId, refresh_token: token}),
        }).then(async (r) => done({status: r.status, error: (await r.json().catch(() => ({}))).error ?? null}))
          .catch((e) => done({status: 0, error: String(e)}));
        """,
        auth_domain,
        client_id,
        refresh_token,
    )


def run(driver, app, user, item_name, screenshot):
    seen = {}
    driver.set_script_timeout(STEP_SECONDS)
    driver.get(app)
    wait_for(driver, "the signed-out page", lambda d: state(d) == "signed-out")
    seen["initial_state"] = state(driver)
    config = driver.execute_script(
        "return fetch('config.json').then((r) => r.json())"
    )

    # Sign in at the Hosted UI, and back with the code, exchanged for tokens.
    driver.find_element(By.ID, "sign-in").click()
    seen["sign_in_page"] = sign_in_at_hosted_ui(driver, user)
    wait_for(driver, "the signed-in page with its items", lambda d: state(d) == "signed-in"
             and d.find_elements(By.CSS_SELECTOR, "#answers li[data-path='/items']"))
    seen["after_sign_in_url"] = driver.current_url
    seen["user"] = driver.find_element(By.ID, "user").text
    seen["pending_sign_in_kept"] = driver.execute_script(
        "return sessionStorage.getItem('items-app.sign-in') !== null")

    # Create an item: it is listed, with the request id of its create.
    driver.find_element(By.ID, "name").send_keys(item_name)
    driver.find_element(By.ID, "description").send_keys("created in headless Chromium")
    driver.find_element(By.CSS_SELECTOR, "#create button[type=submit]").click()
    row = wait_for(driver, "the new item in the list", lambda d: row_of(d, item_name))
    seen["item"] = {
        "id": row.get_attribute("data-item-id"),
        "request_id": row.find_element(By.CSS_SELECTOR, "code").get_attribute("data-request-id"),
    }
    seen["form_cleared"] = driver.find_element(By.ID, "name").get_attribute("value") == ""

    # A blank name: the API's problem, shown with its request id.
    driver.find_element(By.ID, "name").send_keys("   ")
    driver.find_element(By.CSS_SELECTOR, "#create button[type=submit]").click()
    error = wait_for(driver, "the problem shown", lambda d: d.find_element(By.ID, "error").is_displayed()
                     and d.find_element(By.ID, "error"))
    seen["problem"] = {
        "text": error.text,
        "request_id": error.find_element(By.CSS_SELECTOR, "code").get_attribute("data-request-id"),
    }
    driver.find_element(By.ID, "name").clear()

    # The ID token "expires": the next request refreshes it first, with the refresh token.
    before = stored_tokens(driver)
    driver.execute_script(
        "const t = JSON.parse(sessionStorage.getItem('items-app.tokens'));"
        "t.expiresAt = 0; sessionStorage.setItem('items-app.tokens', JSON.stringify(t));")
    count = len(answers(driver))
    driver.find_element(By.ID, "reload").click()
    wait_for(driver, "the list after the refresh", lambda d: len(answers(d)) > count)
    after = stored_tokens(driver)
    seen["refresh"] = {
        "expires_at": after["expiresAt"],
        "now": int(time.time() * 1000),
        "id_token_changed": after["idToken"] != before["idToken"],
        "refresh_token_kept": after["refreshToken"] == before["refreshToken"],
        "listed": answers(driver)[0],
        "error_shown": driver.find_element(By.ID, "error").is_displayed(),
    }
    seen["rows"] = len(driver.find_elements(By.CSS_SELECTOR, "#items tbody tr"))
    driver.save_screenshot(screenshot)
    seen["answers"] = answers(driver)

    # Sign out: tokens forgotten, the refresh token revoked, the Hosted UI's session ended.
    refresh_token = after["refreshToken"]
    driver.find_element(By.ID, "sign-out").click()
    wait_for(driver, "the signed-out page", lambda d: state(d) == "signed-out"
             and urlsplit(d.current_url).path == urlsplit(app).path)
    seen["after_sign_out_url"] = driver.current_url
    seen["tokens_after_sign_out"] = stored_tokens(driver) is not None
    seen["revoked_refresh"] = refresh_token_answer(driver, config["authDomain"], config["clientId"], refresh_token)
    # An answer to a sign-in this page did not start (another site's code, say) is refused
    # before any token request, and the code leaves the address bar.
    driver.get(app + "?code=from-elsewhere&state=forged")
    error = wait_for(driver, "the forged answer refused", lambda d: d.find_element(By.ID, "error").is_displayed()
                     and d.find_element(By.ID, "error"))
    seen["forged_answer"] = {
        "error": error.text,
        "state": state(driver),
        "url": driver.current_url,
        "tokens": stored_tokens(driver) is not None,
    }
    # Signing in again asks for the user again: no Hosted UI session is left.
    driver.find_element(By.ID, "sign-in").click()
    wait_for(driver, "the sign-in form again", lambda d: d.find_elements(By.NAME, "username"))
    seen["asked_again"] = urlsplit(driver.current_url).path
    return seen


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app", required=True, help="the app's page, e.g. http://127.0.0.1:3000/app/")
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--chromedriver", required=True)
    parser.add_argument(
        "--chromium-flag", action="append", required=True, help="a flag for chromium (repeated)"
    )
    parser.add_argument("--user", required=True)
    parser.add_argument("--item", required=True, help="the name of the item to create")
    parser.add_argument("--screenshot", required=True, help="where to write the PNG")
    args = parser.parse_args()

    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    profile = tempfile.TemporaryDirectory()
    for flag in args.chromium_flag + [WINDOW, f"--user-data-dir={profile.name}"]:
        options.add_argument(flag)
    # Both binaries are named: Selenium neither looks for nor downloads a driver.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=args.chromedriver))
    try:
        seen = run(driver, args.app, args.user, args.item, args.screenshot)
    finally:
        driver.quit()
        profile.cleanup()
    json.dump(seen, sys.stdout)


if __name__ == "__main__":
    main()
