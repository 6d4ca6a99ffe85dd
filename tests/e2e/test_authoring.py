"""A trainer's authoring journey in a real browser: browse and filter a version, edit a
draft with the htmx live preview (under the CSP), publish, diff; axe-core on every page."""

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.banks import service as banks_service
from tests.e2e.conftest import Trainer

BANK_ID = "essai"  # the bank of the e2e exam (tests/e2e/conftest.py)
OLD_STEM = "Quel est le taux de la première tranche imposée ?"
NEW_STEM = "Quel taux frappe la première tranche imposée du barème ?"
DIFFICULTY_ERROR = (
    "ligne 3 : question « q-choix » › difficulty : doit être inférieur ou égal à 3 (trouvé « 7 »)"
)
SUMMARY = "Énoncé de q-choix reformulé."


def log_in(page: Page, trainer: Trainer) -> None:
    page.goto("/connexion")
    page.get_by_label("Identifiant").fill(trainer.login)
    page.get_by_label("Mot de passe").fill(trainer.password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(re.compile(r"/$"))


def next_version(version: str) -> str:
    year, number = version.split(".")
    return f"{year}.{int(number) + 1}"


class AxeChecks:
    """axe-core on each page; the violations are all reported at the end of the journey."""

    def __init__(self, page: Page) -> None:
        self.page, self.axe, self.failures = page, Axe(), []

    def check(self, what: str) -> None:
        results = self.axe.run(self.page)
        if results.violations_count:
            report = results.generate_report()
            print(f"axe-core, {what} ({self.page.url}) :\n{report}")
            self.failures.append(f"{what} : {results.generate_snapshot()}")

    def assert_none(self) -> None:
        assert not self.failures, "violations axe-core :\n" + "\n".join(self.failures)


def test_trainer_edits_previews_publishes_and_diffs(
    page: Page, formateur: Trainer, e2e_engine: Engine
):
    axe = AxeChecks(page)
    log_in(page, formateur)
    expect(page.get_by_role("heading", level=1)).to_have_text("Espace formateur")

    # The bank of the exam, its versions.
    bank_row = page.get_by_role("row").filter(has_text=f"({BANK_ID})")
    bank_row.get_by_role("link", name="Banque d'essai").click()
    page.wait_for_url(re.compile(rf"/banques/{BANK_ID}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Banque Banque d'essai ({BANK_ID})")
    versions = page.locator("tbody th[scope=row]")
    old = versions.first.inner_text()
    new = next_version(old)
    expect(page.get_by_text("Aucun brouillon.")).to_be_visible()
    axe.check("banque")

    # The version, filtered by type and by « valide le ».
    versions.first.get_by_role("link", name=old, exact=True).click()
    page.wait_for_url(re.compile(rf"/banques/{BANK_ID}/versions/{re.escape(old)}$"))
    page.get_by_label("Type").select_option(label="numérique")
    page.get_by_label("Valide le").fill("2000-07-01")  # q-nombre ended on 2000-06-30
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url(re.compile(r"\?.*type=numeric.*valide_le=2000-07-01"))
    expect(page.locator("main")).to_contain_text("0 question(s) sur 4")
    expect(page.get_by_text("Aucune question ne correspond à ces filtres.")).to_be_visible()
    page.get_by_label("Valide le").fill("2000-03-01")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url(re.compile(r"\?.*type=numeric.*valide_le=2000-03-01"))
    expect(page.locator("main")).to_contain_text("1 question(s) sur 4")
    expect(page.get_by_label("Type")).to_have_value("numeric")
    expect(page.get_by_label("Valide le")).to_have_value("2000-03-01")
    expect(page.get_by_role("heading", level=2)).to_have_text(
        "q-nombre – Épargne réglementée, difficulté 3, C9, valide du 01/01/2000 au 30/06/2000"
    )
    axe.check("version filtrée")

    # A draft from that version.
    page.get_by_role("link", name="Retour à la banque").click()
    page.get_by_label("Nouveau brouillon à partir de la version").select_option(old)
    page.get_by_role("button", name="Créer le brouillon").click()
    page.wait_for_url(re.compile(r"/brouillons/(\d+)$"))
    draft_id = int(re.search(r"/brouillons/(\d+)$", page.url).group(1))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Brouillon n°{draft_id} : Banque d'essai"
    )
    expect(page.locator("caption")).to_have_text("Questions du brouillon (4)")
    axe.check("brouillon")

    # The editor: the live preview follows the YAML without reloading the page.
    page.get_by_role("link", name="Modifier q-choix").click()
    page.wait_for_url(re.compile(rf"/brouillons/{draft_id}/questions/0$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Modifier la question 1")
    preview = page.locator("#apercu")
    expect(preview.locator("legend")).to_have_text("Question 1 sur 4")
    expect(preview.locator(".stem")).to_have_text(OLD_STEM)
    editor = page.get_by_label("Question (YAML)")
    original = editor.input_value()
    edited = original.replace(f"stem: {OLD_STEM}\n", f"stem: {NEW_STEM}\n")
    assert edited != original, original
    page.evaluate("() => { window.pasRecharge = true; }")
    with page.expect_response(f"**/brouillons/{draft_id}/apercu") as response:
        editor.fill(edited)
    assert response.value.status == 200
    expect(preview.locator(".stem")).to_have_text(NEW_STEM)
    expect(preview.locator("legend")).to_have_text("Question 1 sur 4")
    expect(preview.locator("input[name=selected]")).to_have_count(2)
    assert page.evaluate("() => window.pasRecharge === true"), "page rechargée"
    axe.check("éditeur avec aperçu")

    # An error: the French message with its line replaces the preview; then fixed.
    editor.fill(edited.replace("difficulty: 1\n", "difficulty: 7\n"))
    expect(preview.locator("li")).to_have_text([DIFFICULTY_ERROR])
    expect(preview).to_contain_text("Problèmes à corriger :")
    expect(preview.locator(".stem")).to_have_count(0)
    axe.check("éditeur avec erreur")
    editor.fill(edited)
    expect(preview.locator(".stem")).to_have_text(NEW_STEM)
    expect(preview.locator(".alert")).to_have_count(0)
    assert page.evaluate("() => window.pasRecharge === true"), "page rechargée"
    page.get_by_role("button", name="Enregistrer dans le brouillon").click()
    page.wait_for_url(re.compile(rf"/brouillons/{draft_id}$"))

    # Publication with a new version number and the changelog summary.
    page.get_by_label("Numéro de version (AAAA.N)").fill(new)
    page.get_by_label("Journal des modifications (obligatoire)").fill(SUMMARY)
    page.get_by_role("button", name="Publier").click()
    page.wait_for_url(re.compile(rf"/brouillons/{draft_id}/publier$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Version {new} publiée")
    expect(page.locator("main")).to_contain_text("4 questions, empreinte SHA-256")
    axe.check("version publiée")
    with Session(e2e_engine) as db:  # what the server stored
        published = banks_service.get_document(session=db, bank_id=BANK_ID, version=new)
    assert (published.changelog[0].version, published.changelog[0].summary) == (new, SUMMARY)
    assert published.questions[0].stem == NEW_STEM

    # The diff between the old and the new version.
    page.get_by_role("link", name="Retour à la banque").click()
    page.wait_for_url(re.compile(rf"/banques/{BANK_ID}$"))
    expect(versions).to_have_text([new, old])
    expect(page.get_by_text("Aucun brouillon.")).to_be_visible()  # published: gone
    page.get_by_label("Comparer la version").select_option(old)
    page.get_by_label("à la version").select_option(new)
    page.get_by_role("button", name="Comparer").click()
    page.wait_for_url(
        re.compile(rf"/banques/{BANK_ID}/diff\?de={re.escape(old)}&a={re.escape(new)}$")
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Banque {BANK_ID} : différences {old} → {new}"
    )
    expect(page.get_by_role("heading", level=2)).to_have_text(["Questions modifiées (1)"])
    expect(page.locator("main li")).to_have_text(["q-choix : stem"])
    expect(page.locator("main")).not_to_contain_text("En-tête modifié")
    axe.check("différences")

    axe.assert_none()
