"""The app in a real browser: `streamlit run app.py` on a free local port, driven by headless Chromium (selenium).

Run with `pytest -m browser` (needs Debian's chromium and chromium-driver). Screenshots go to test-artifacts/;
with SAVE_DOC_SCREENSHOTS=1 the main views are also saved to docs/screenshots/ for the README.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import free_port, wait_until_healthy

from kb.store import KnowledgeBase

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
DOC_SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SEED = "宝宝刚出生就接到影楼的推销电话，对方知道孩子的出生日期和我们的电话，是有人卖了我们的信息吗？我该怎么办？"


@pytest.fixture(scope="module")
def app_url(small_kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("chromium / chromium-driver not installed (apt-get install chromium chromium-driver)")
    port = free_port()
    env = dict(os.environ, KB_HOME=str(small_kb.home), ANONYMIZED_TELEMETRY="False", HF_HUB_OFFLINE="1")
    log = open(tmp_path_factory.mktemp("streamlit") / "streamlit.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(f"{url}/_stcore/health", proc, "streamlit")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
        "--lang=zh-CN",
    ):
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


def shot(drv, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    drv.save_screenshot(str(path))
    if os.environ.get("SAVE_DOC_SCREENSHOTS"):
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOC_SHOTS / name)
    return path


def tab(drv, label: str):  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    found = drv.find_elements(By.XPATH, f"//*[@role='tab'][contains(., '{label}')]")
    assert found, f"no tab {label}"
    drv.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", found[0])
    return found[0]


def test_ask_read_sources_browse_and_draft(app_url: str, driver) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    drv = driver
    wait = WebDriverWait(drv, 120)
    drv.get(app_url)
    box = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "textarea[data-testid=stChatInputTextArea]")))
    assert "不构成法律意见" in drv.find_element(By.TAG_NAME, "body").text
    box.send_keys(SEED)
    box.send_keys(Keys.ENTER)

    # the answer, with inline citations that verified
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-testid=stChatMessage] sup.kb-cite.kb-ok")))
    assert not drv.find_elements(By.CSS_SELECTOR, "sup.kb-cite.kb-bad")
    assert not drv.find_elements(By.CSS_SELECTOR, "[data-testid=stChatMessage] script")

    # open the first source: its text with the supporting sentence highlighted
    summary = wait.until(
        ec.element_to_be_clickable((By.XPATH, "//*[@data-testid='stExpander']//summary[contains(., '[1]')]"))
    )
    drv.execute_script("arguments[0].scrollIntoView({block: 'center'});", summary)
    summary.click()
    mark = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".kb-src .kb-text mark")))
    assert mark.text.strip()
    assert "已核验" in drv.find_element(By.CSS_SELECTOR, ".kb-src .kb-meta").text
    drv.execute_script("arguments[0].scrollIntoView({block: 'center'});", mark)
    time.sleep(0.5)
    assert shot(drv, "chat-with-sources.png").stat().st_size > 10_000

    # law browser: look a citation up, then read the law by chapter
    tab(drv, "法条浏览")
    lookup = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "input[aria-label='输入引用，跳到条文']")))
    lookup.send_keys("个保法第13条")
    lookup.send_keys(Keys.ENTER)
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-testid=stMain]"), "第十三条"))
    button = wait.until(ec.element_to_be_clickable((By.XPATH, "//button[contains(., '在下方浏览全文')]")))
    button.click()
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-testid=stMain]"), "第二章 个人信息处理规则"))
    time.sleep(1)
    heading = drv.find_element(By.XPATH, "//*[contains(text(), '按章节阅读')]")
    drv.execute_script("arguments[0].scrollIntoView({block: 'start'});", heading)
    time.sleep(0.5)
    shot(drv, "law-browser.png")

    # complaint letter drafted from the conversation
    tab(drv, "投诉举报信")
    respondent = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "input[aria-label='被投诉举报人']")))
    respondent.send_keys("杭州某摄影有限公司")
    respondent.send_keys(Keys.ENTER)
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".kb-letter"), "杭州某摄影有限公司"))
    letter = drv.find_element(By.CSS_SELECTOR, ".kb-letter").text
    assert "投诉举报信" in letter and "三、法律依据" in letter and "《中华人民共和国个人信息保护法》" in letter
    drv.execute_script(
        "arguments[0].scrollIntoView({block: 'start'});", drv.find_element(By.XPATH, "//strong[text()='预览']")
    )
    time.sleep(0.5)
    shot(drv, "letter-draft.png")
    logs = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"] if hasattr(drv, "get_log") else []
    assert not [e for e in logs if "alert" in e.get("message", "")]
