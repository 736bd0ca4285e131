"""The sentinel scan over the handling of a case (DESIGN.md, "Encryption"; BRIEFING rule 1).

Everything written while a case is handled gets a distinctive string: an internal note, a
question and the reporter's answer, an extension's reason, a transfer's reason, the decision, a
second case's reason for not accepting it, a publication draft that was rewritten before
approval, the reporter's reasons for reopening and their account of retaliation. All of it goes
through the real pages. Afterwards none of it may be anywhere at rest, in the logs or in the
outbox. The one deliberate exception is the public summary the chair approved: it is in the
database as plaintext, by law, and the scan checks that it is exactly that text and nothing else.
"""

from __future__ import annotations

import logging
import re
import secrets

from flask import Flask

from service.platform.db import get_database
from tests.conftest import csrf_from, form_token_from, found, get_csrf
from tests.test_sentinel import (
    _client,
    _login,
    _page,
    assert_no_leaks,
    database_haystacks,
    file_haystacks,
    find_leaks,
    log_haystacks,
    outbox_haystacks,
)

CASE_LINK = re.compile(r'href="/board/cases/([0-9a-f]{32})"')


def _words(tag: str) -> dict[str, str]:
    return {
        "title": f"Tiêu đề kín về bếp ăn {tag}",
        "text": f"Nội dung kín: thực phẩm hết hạn ở kho lạnh số 2 {tag}",
        "note": f"Ghi chú nội bộ kín: đã hỏi thủ kho Lê Văn Ẩn {tag}",
        "question": f"Câu hỏi kín: anh/chị thấy việc này ngày nào? {tag}",
        "answer": f"Trả lời kín: sáng thứ Hai 9/3, ca của tôi {tag}",
        "extension reason": f"Lý do gia hạn kín: chờ kết quả kiểm nghiệm mẫu {tag}",
        "transfer reason": f"Lý do chuyển kín: liên quan tài chính của bếp {tag}",
        "decision": f"Kết luận kín: đã hủy lô hàng, kỷ luật thủ kho {tag}",
        "decline reason": f"Lý do không thụ lý kín: trùng với đơn trước {tag}",
        "first draft": f"Bản nháp kín có tên thủ kho Lê Văn Ẩn {tag}",
        "reopen reason": f"Lý do mở lại kín: kho lạnh vẫn chưa sửa {tag}",
        "retaliation": f"Bị trù dập kín: bị đổi sang ca đêm từ 15/3 {tag}",
    }


def _post(client, url: str, **data) -> None:
    response = client.post(url, data={"csrf_token": get_csrf(client, "/board/"), **data})
    assert response.status_code == 302, (url, response.status_code)


def _file(app: Flask, world, title: str, text: str):
    """An anonymous report of a problem to the Trade Union; returns the reporter and receipt."""
    reporter = _client(app)
    choice = f"kind=problem&body={world.cd.id}&identity=anonymous"
    form = _page(reporter, f"/report/write?{choice}")
    response = reporter.post(
        "/report/write",
        data={
            "csrf_token": csrf_from(form),
            "form_token": form_token_from(form),
            "kind": "problem",
            "body": str(world.cd.id),
            "identity": "anonymous",
            "title": title,
            "text": text,
        },
        content_type="multipart/form-data",
    )
    receipt = re.search(r'data-testid="receipt">\s*([0-9 ]+?)\s*<', response.get_data(as_text=True))
    assert receipt
    returning = _client(app)
    token = get_csrf(returning, "/follow-up")
    assert returning.post("/follow-up", data={"csrf_token": token, "receipt": receipt.group(1)})
    return returning


def _reporter_post(reporter, path: str, **data) -> None:
    token = csrf_from(_page(reporter, "/follow-up/case"))
    response = reporter.post(path, data={"csrf_token": token, **data})
    assert response.status_code == 302, (path, response.status_code)


def run_handling(app: Flask, world, words: dict[str, str], approved: str) -> None:
    reporter = _file(app, world, words["title"], words["text"])
    cd_handler, cd_chair = _login(app, world["cd_handler"]), _login(app, world["cd_chair"])
    case_id = found(CASE_LINK, _page(cd_handler, "/board/")).group(1)
    url = f"/board/cases/{case_id}"

    _post(cd_chair, f"{url}/assign", assignee=world["cd_handler"].account.id)
    _post(cd_handler, f"{url}/note", text=words["note"])
    _post(cd_handler, f"{url}/question", text=words["question"])
    _reporter_post(reporter, "/follow-up/case/message", text=words["answer"])
    _post(cd_handler, f"{url}/do/acknowledge")
    _post(cd_handler, f"{url}/do/accept")
    _post(cd_chair, f"{url}/extend", reason=words["extension reason"])
    _post(cd_handler, f"{url}/transfer", to_body=world.ttnd.id, reason=words["transfer reason"])

    ttnd_handler, ttnd_chair = _login(app, world["ttnd_handler"]), _login(app, world["ttnd_chair"])
    page = _page(ttnd_handler, url)
    for field in ("title", "text", "note", "question", "answer", "transfer reason"):
        assert words[field] in page, field
    _post(ttnd_handler, f"{url}/do/acknowledge")
    _post(ttnd_handler, f"{url}/do/accept")
    _post(ttnd_handler, f"{url}/do/resolve", text=words["decision"])
    _post(ttnd_handler, f"{url}/publication", text=words["first draft"])
    _post(ttnd_handler, f"{url}/publication", text=approved)
    chair_page = _page(ttnd_chair, url)
    draft = found(r'/publication/(\d+)/approve"', chair_page).group(1)
    _post(ttnd_chair, f"{url}/publication/{draft}/approve", revision="2")
    assert approved in _page(_client(app), "/results")

    _reporter_post(reporter, "/follow-up/case/rate", rating="2")
    _reporter_post(reporter, "/follow-up/case/reopen", text=words["reopen reason"])
    _reporter_post(reporter, "/follow-up/case/retaliation", text=words["retaliation"])
    page = _page(reporter, "/follow-up/case")
    for field in ("decision", "reopen reason", "retaliation", "answer", "question"):
        assert words[field] in page, field
    for field in ("note", "extension reason", "transfer reason", "first draft"):
        assert words[field] not in page, f"the reporter sees the {field}"

    # A second case, not accepted, for the reason given to the reporter.
    _file(app, world, f"Đơn thứ hai {words['title']}", words["text"])
    second = next(i for i in CASE_LINK.findall(_page(cd_chair, "/board/")) if i != case_id)
    _post(cd_chair, f"/board/cases/{second}/do/decline", text=words["decline reason"])
    _page(cd_chair, "/board/audit")


def test_handling_a_case_leaves_no_plaintext_but_the_approved_summary(
    app: Flask, world, caplog, tmp_path, backend
):
    caplog.set_level(logging.DEBUG)
    for name in ("werkzeug", "homthu"):
        caplog.set_level(logging.DEBUG, logger=name)
    tag = secrets.token_hex(6)
    words = _words(tag)
    approved = (
        f"Kết quả công khai: đã xử lý vi phạm về an toàn thực phẩm (mã {secrets.token_hex(4)})"
    )
    run_handling(app, world, words, approved)
    engine = get_database(app).engine

    files = file_haystacks(tmp_path)
    if files:
        assert_no_leaks(files, words)
    tables = database_haystacks(engine)
    assert_no_leaks(tables, words)
    # The deliberate exception: the approved summary, in the publication table and nowhere else.
    found = {leak.where for leak in find_leaks(tables, {"approved summary": approved})}
    assert found == {"table publication"}
    assert_no_leaks(outbox_haystacks(engine), {**words, "approved summary": approved})
    assert caplog.records
    assert_no_leaks(log_haystacks(caplog.records), {**words, "approved summary": approved})
