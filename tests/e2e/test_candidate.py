"""The candidate's journey in a real browser: keyboard only, network cuts, reload,
accessibility (axe-core) and the timer."""

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Candidate, E2EExam

SAVED = re.compile(r"^Enregistré à \d{2}:\d{2}:\d{2}$")
QUESTION_URL = re.compile(r"/tentatives/(\d+)/questions/(\d+)$")
TIMER = re.compile(r"^(\d+) min (\d{2}) s$")
KEPT_IN_BROWSER = "Connexion perdue : réponse conservée dans ce navigateur, en attente d'envoi."
BANNER_TEXT = (
    "Connexion perdue : vos réponses sont conservées dans ce navigateur et seront envoyées "
    "automatiquement dès le retour du réseau. Ne fermez pas cette page."
)
QUESTION_TYPES = {"single_choice", "multiple_choice", "true_false"}


# --------------------------------------------------------------------------- helpers


def question_url(attempt_id: int, position: int) -> re.Pattern:
    return re.compile(rf"/tentatives/{attempt_id}/questions/{position}$")


def attempt_id_of(page: Page) -> int:
    match = re.search(r"/tentatives/(\d+)/", page.url)
    assert match, f"pas sur une page de tentative : {page.url}"
    return int(match.group(1))


def api_attempt(page: Page, attempt_id: int) -> dict:
    """The attempt through the JSON API, with the browser's own session cookie."""
    response = page.request.get(f"/api/v1/attempts/{attempt_id}")
    assert response.status == 200, response.text()
    return response.json()


def responses_on_server(page: Page, attempt_id: int) -> dict[str, dict | None]:
    return {q["question_id"]: q["response"] for q in api_attempt(page, attempt_id)["questions"]}


def log_in(page: Page, candidate: Candidate) -> None:
    page.goto("/connexion")
    page.get_by_label("Identifiant").fill(candidate.login)
    page.get_by_label("Mot de passe").fill(candidate.password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(re.compile(r"/$"))


def start(page: Page, candidate: Candidate) -> int:
    """Log in and start the questionnaire: the attempt id, on question 1."""
    log_in(page, candidate)
    return begin(page, "Questionnaire d'essai")


def begin(page: Page, title: str) -> int:
    """From the home page, start the questionnaire ``title``: the attempt id."""
    card = page.locator(".card").filter(has=page.get_by_role("heading", name=title, exact=True))
    card.get_by_role("button", name=re.compile("^Commencer")).click()
    page.wait_for_url(QUESTION_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Question 1 sur 3$"))
    return attempt_id_of(page)


def question_id(page: Page) -> str:
    return page.locator("#question-form").get_attribute("data-question-id")


def question_type(page: Page) -> str:
    return page.locator("#question-form").get_attribute("data-question-type")


def expect_saved(page: Page, seq: int) -> None:
    """The save numbered ``seq`` was acknowledged by the server."""
    expect(page.locator("#question-form")).to_have_attribute("data-seq", str(seq))
    expect(page.locator("#save-status")).to_have_text(SAVED)


def choose_first(page: Page) -> list[str]:
    """Tick the first option (radio or checkbox); the values now selected."""
    option = page.locator("input[name=selected]").first
    option.check()
    return [option.get_attribute("value")]


def remaining_shown(page: Page) -> int:
    text = page.locator("#timer").inner_text()
    match = TIMER.match(text)
    assert match, f"minuteur illisible : « {text} »"
    return int(match.group(1)) * 60 + int(match.group(2))


def focused_matches(page: Page, selector: str) -> bool:
    return page.evaluate(
        "selector => !!document.activeElement && document.activeElement.matches(selector)",
        selector,
    )


def tab_to(page: Page, selector: str, limit: int = 40) -> None:
    """Press Tab until the focus reaches ``selector`` (as a keyboard user would)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused_matches(page, selector):
            return
    raise AssertionError(f"« {selector} » jamais atteint avec Tab sur {page.url}")


def focused_value(page: Page) -> str:
    return page.evaluate("() => document.activeElement.value")


def check_axe(page: Page, what: str) -> None:
    results = Axe().run(page)
    if results.violations_count:
        print(f"axe-core, {what} ({page.url}) :\n{results.generate_report()}")
    assert results.violations_count == 0, f"{what} : {results.generate_snapshot()}"


# --------------------------------------------------------------------------- tests


def test_keyboard_only_from_login_to_submission(page: Page, candidate: Candidate):
    page.goto("/connexion")
    tab_to(page, "#login")
    page.keyboard.type(candidate.login)
    page.keyboard.press("Tab")
    assert focused_matches(page, "#password")
    page.keyboard.type(candidate.password)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Bonjour {candidate.display_name}")

    tab_to(page, "form[action$='/demarrer'] button")
    page.keyboard.press("Enter")
    page.wait_for_url(question_url(r"\d+", 1))
    attempt_id = attempt_id_of(page)

    chosen: dict[str, list[str]] = {}
    types = set()
    for position in (1, 2, 3):
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Question {position} sur 3")
        kind = question_type(page)
        types.add(kind)
        tab_to(page, "input[name=selected]")
        if kind == "multiple_choice":
            page.keyboard.press("Space")
            first = focused_value(page)
            expect_saved(page, 1)
            page.keyboard.press("Tab")
            assert focused_matches(page, "input[type=checkbox][name=selected]")
            page.keyboard.press("Space")
            expect_saved(page, 2)
            chosen[question_id(page)] = sorted([first, focused_value(page)])
        elif kind == "true_false":  # a radio group: the arrow keys move and select
            page.keyboard.press("ArrowDown")
            expect_saved(page, 1)
            chosen[question_id(page)] = [focused_value(page)]
        else:
            page.keyboard.press("Space")
            expect_saved(page, 1)
            chosen[question_id(page)] = [focused_value(page)]
        expect(page.locator("input[name=selected]:focus")).to_be_checked()

        if position < 3:
            tab_to(page, "button[name=go][value=suivante]")
            page.keyboard.press("Enter")
            page.wait_for_url(question_url(attempt_id, position + 1))
        else:
            tab_to(page, "button[name=go][value=relecture]")
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(rf"/tentatives/{attempt_id}/relecture$"))
    assert types == QUESTION_TYPES

    expect(page.locator("main")).to_contain_text("3 question(s) répondue(s) sur 3.")
    tab_to(page, "#confirm")
    page.keyboard.press("Space")
    expect(page.locator("#confirm")).to_be_checked()
    tab_to(page, ".submit-form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/tentatives/{attempt_id}/resultat$"))
    expect(page.locator("main")).to_contain_text("Questionnaire remis.")

    attempt = api_attempt(page, attempt_id)
    assert attempt["status"] == "submitted"
    assert attempt["answered"] == 3
    assert {
        q["question_id"]: sorted(q["response"]["selected"]) for q in attempt["questions"]
    } == chosen


def test_network_cut_keeps_answers_and_replays_them(page: Page, candidate: Candidate):
    context = page.context
    attempt_id = start(page, candidate)
    banner = page.locator("#connection-banner")
    status = page.locator("#save-status")
    expect(banner).to_be_hidden()

    # Question 1: answered offline, kept in the browser, sent when the network returns.
    first_id = question_id(page)
    context.set_offline(True)
    first_answer = choose_first(page)
    expect(banner).to_be_visible()
    expect(banner).to_have_text(BANNER_TEXT)
    expect(banner).to_have_attribute("role", "alert")
    expect(status).to_have_text(KEPT_IN_BROWSER)
    assert responses_on_server(page, attempt_id)[first_id] is None  # nothing sent yet
    context.set_offline(False)
    expect(banner).to_be_hidden()
    expect_saved(page, 1)
    assert responses_on_server(page, attempt_id)[first_id] == {"selected": first_answer}

    # Question 2: answered offline; leaving through the navigation while offline keeps the
    # candidate on the page; back online, leaving sends the answer first.
    page.get_by_role("button", name="Question suivante").click()
    page.wait_for_url(question_url(attempt_id, 2))
    second_id = question_id(page)
    context.set_offline(True)
    second_answer = choose_first(page)
    expect(banner).to_be_visible()
    expect(status).to_have_text(KEPT_IN_BROWSER)
    # The click tries to send the pending save first, fails and stays.
    with page.expect_event("requestfailed", lambda request: "/answers/" in request.url):
        page.locator(".question-nav").get_by_role("link", name="Relire et remettre").click()
    expect(banner).to_be_visible()
    assert question_url(attempt_id, 2).search(page.url), "page quittée hors ligne"
    context.set_offline(False)
    page.locator(".question-nav").get_by_role("link", name="Relire et remettre").click()
    page.wait_for_url(re.compile(rf"/tentatives/{attempt_id}/relecture$"))
    expect(page.locator("main")).to_contain_text("2 question(s) répondue(s) sur 3.")

    on_server = responses_on_server(page, attempt_id)
    assert on_server[first_id] == {"selected": first_answer}
    assert on_server[second_id] == {"selected": second_answer}
    assert sum(response is not None for response in on_server.values()) == 2
    assert page.evaluate(
        "() => Object.keys(localStorage).filter(k => k.endsWith(':pending'))"
        ".map(k => localStorage.getItem(k))"
    ) == ["{}"]


def test_answers_kept_in_browser_are_sent_before_submission(page: Page, candidate: Candidate):
    """A save that never reached the server is replayed from the review page, and the
    questionnaire is not submitted without it."""
    attempt_id = start(page, candidate)
    first_id = question_id(page)
    saves = re.compile(rf"/api/v1/attempts/{attempt_id}/answers/")
    page.route(saves, lambda route: route.abort("connectionrefused"))
    answer = choose_first(page)
    expect(page.locator("#save-status")).to_have_text(KEPT_IN_BROWSER)

    # The candidate comes back later straight to the review page (no link clicked).
    page.goto(f"/tentatives/{attempt_id}/relecture")
    expect(page.locator("main")).to_contain_text("0 question(s) répondue(s) sur 3.")
    banner = page.locator("#connection-banner")
    expect(banner).to_be_visible()
    page.get_by_label(re.compile("^Je confirme la remise")).check()
    with page.expect_event("requestfailed", lambda request: saves.search(request.url)):
        page.get_by_role("button", name="Remettre le questionnaire").click()
    expect(banner).to_be_visible()
    assert page.url.endswith(f"/tentatives/{attempt_id}/relecture"), "remis sans la réponse"
    assert api_attempt(page, attempt_id)["status"] == "running"

    page.unroute(saves)
    page.get_by_role("button", name="Remettre le questionnaire").click()
    page.wait_for_url(re.compile(rf"/tentatives/{attempt_id}/resultat$"))
    expect(page.locator("main")).to_contain_text("Questionnaire remis.")
    attempt = api_attempt(page, attempt_id)
    assert attempt["status"] == "submitted"
    assert responses_on_server(page, attempt_id)[first_id] == {"selected": answer}


def test_reload_resumes_the_same_attempt(page: Page, candidate: Candidate):
    attempt_id = start(page, candidate)
    answer = choose_first(page)
    expect_saved(page, 1)
    saved_text = page.locator("#save-status").inner_text()
    before = remaining_shown(page)

    page.reload()
    assert question_url(attempt_id, 1).search(page.url)
    assert attempt_id_of(page) == attempt_id
    expect(page.locator(f"input[name=selected][value='{answer[0]}']")).to_be_checked()
    expect(page.locator("input[name=selected]:checked")).to_have_count(1)
    expect(page.locator("#save-status")).to_have_text(saved_text)
    after = int(page.locator("#timer").get_attribute("data-remaining"))
    assert after <= before
    assert remaining_shown(page) <= before
    assert api_attempt(page, attempt_id)["remaining_seconds"] <= before


def test_every_candidate_page_passes_axe(page: Page, make_candidate, e2e_exam: E2EExam):
    candidate = make_candidate(e2e_exam.session_id, e2e_exam.corrected_session_id)
    page.goto("/connexion")
    check_axe(page, "connexion")
    log_in(page, candidate)
    expect(page.locator(".questionnaire-list > li")).to_have_count(2)
    check_axe(page, "accueil (liste des questionnaires)")

    # The corrected questionnaire: every question type, review, result with correction.
    attempt_id = begin(page, "Questionnaire d'essai corrigé")
    types = set()
    for position in (1, 2, 3):
        page.goto(f"/tentatives/{attempt_id}/questions/{position}")
        kind = question_type(page)
        types.add(kind)
        check_axe(page, f"question {position} ({kind})")
        choose_first(page)
        expect_saved(page, 1)
        check_axe(page, f"question {position} ({kind}) enregistrée")
    assert types == QUESTION_TYPES
    page.goto(f"/tentatives/{attempt_id}/relecture")
    check_axe(page, "relecture")
    page.get_by_label(re.compile("^Je confirme la remise")).check()
    page.get_by_role("button", name="Remettre le questionnaire").click()
    page.wait_for_url(re.compile(rf"/tentatives/{attempt_id}/resultat$"))
    expect(page.get_by_role("heading", name="Correction")).to_be_visible()
    check_axe(page, "résultat avec correction")

    # The other questionnaire: unanswered, flagged, result given after the session closes.
    page.goto("/")
    check_axe(page, "accueil (un questionnaire terminé)")
    attempt_id = begin(page, "Questionnaire d'essai")
    page.get_by_role("button", name="Marquer pour relecture").click()
    expect(page.get_by_role("button", name="Retirer la marque de relecture")).to_be_visible()
    check_axe(page, "question marquée")
    page.goto(f"/tentatives/{attempt_id}/relecture")
    expect(page.locator("main")).to_contain_text("Questions sans réponse (3)")
    check_axe(page, "relecture sans réponse")
    page.get_by_label(re.compile("^Je confirme la remise")).check()
    page.get_by_role("button", name="Remettre le questionnaire").click()
    page.wait_for_url(re.compile(rf"/tentatives/{attempt_id}/resultat$"))
    expect(page.locator("main")).to_contain_text("Questionnaire remis.")
    check_axe(page, "résultat en attente")


def test_timer_counts_down_and_only_announcements_are_live(page: Page, candidate: Candidate):
    start(page, candidate)
    expect(page.locator(".timer")).to_contain_text("Temps restant")
    timer = page.locator("#timer")
    expect(timer).to_have_text(TIMER)
    before = remaining_shown(page)
    page.wait_for_timeout(2_100)
    after = remaining_shown(page)
    assert 1 <= before - after <= 3, (before, after)

    # The ticking timer is not live: screen readers hear the thresholds only.
    live = page.locator("[aria-live]")
    assert "timer-announce" in live.evaluate_all("els => els.map(e => e.id)")
    expect(page.locator("#timer-announce")).to_have_attribute("aria-live", "polite")
    assert timer.get_attribute("aria-live") is None
    assert (
        timer.evaluate(
            "el => el.closest('[aria-live], [role=status], [role=timer], [role=alert], [role=log]')"
        )
        is None
    )
