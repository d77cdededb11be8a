"""Parsing uploads: each format keeps headings and pages; bad files fail with a message naming the file."""

from __future__ import annotations

import io
import random
import zipfile

import docx
import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from workbench.documents.parsing import SUPPORTED_TYPES, content_type_for, parse_document
from workbench.errors import InvalidInput


def build_pdf(page_texts: list[str], title: str | None = None) -> bytes:
    """A PDF with one page per text; an empty text gives a page with only a drawn rectangle."""
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=12)
    for text in page_texts:
        pdf.add_page()
        if text:
            pdf.multi_cell(w=0, text=text)
        else:
            pdf.rect(x=20, y=20, w=80, h=40)
    return bytes(pdf.output())


def encrypt_pdf(data: bytes, user_password: str, owner_password: str | None = None) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password, owner_password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def build_docx() -> bytes:
    document = docx.Document()
    document.core_properties.title = "Refund policy"
    document.add_heading("Refunds", level=1)
    document.add_paragraph("Customers may return goods within 30 days.")
    document.add_heading("Exceptions", level=2)
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [("Item", "Window"), ("Software", "14 days")], strict=True):
        row.cells[0].text, row.cells[1].text = cells
    document.add_paragraph("Ask support for anything else.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def assert_invalid(data: bytes, filename: str, *fragments: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_document(data, filename)
    message = str(caught.value)
    assert message.startswith(f"{filename}: ")
    for fragment in fragments:
        assert fragment in message
    return message


# --- formats -------------------------------------------------------------------------------------

def test_plain_text_is_one_page_without_number_and_newlines_normalised():
    parsed = parse_document(b"First line\r\nSecond line\rThird line\n", "notes.txt")
    assert parsed.content_type == "text" and parsed.mime_type == "text/plain"
    assert parsed.text == "First line\nSecond line\nThird line"
    assert parsed.pages[0].number is None and parsed.num_pages is None
    assert parsed.title is None


def test_markdown_keeps_heading_lines_and_takes_first_h1_as_title():
    source = "```bash\n# not a title\n```\n# User guide\n\nIntro.\n\n## Install\n\nRun it.\n"
    parsed = parse_document(source.encode(), "guide.MD")
    assert parsed.content_type == "markdown"
    assert parsed.title == "User guide"
    assert "# User guide\n\nIntro.\n\n## Install\n\nRun it." in parsed.text


def test_html_headings_become_hash_lines_and_scripts_and_nav_are_dropped():
    page = b"""<html><head><title>Help  centre</title><style>p {color: red}</style></head><body>
      <nav><a href="/">Home</a></nav>
      <h1>Shipping</h1><p>We ship   worldwide.<br>Tracking is included.</p>
      <script>var secret = 1;</script>
      <h2>Costs</h2><ul><li>Standard: free</li><li>Express: 9 EUR</li></ul>
      <table><tr><td>EU</td><td>2 days</td></tr></table>
    </body></html>"""
    parsed = parse_document(page, "help.html")
    assert parsed.title == "Help centre"
    assert parsed.text == ("# Shipping\n\nWe ship worldwide.\nTracking is included.\n\n## Costs\n\n"
                           "Standard: free\nExpress: 9 EUR\n\nEU\n2 days")
    for dropped in ("secret", "color", "Home", "Help centre"):
        assert dropped not in parsed.text


def test_csv_rows_become_labelled_lines_with_sniffed_delimiter():
    parsed = parse_document(b"name;city;notes\nAda;London;\nLinus;Helsinki;kernel\n", "people.csv")
    assert parsed.content_type == "csv" and parsed.title is None
    assert parsed.text.split("\n") == [
        "Columns: name, city, notes",
        "name: Ada; city: London",
        "name: Linus; city: Helsinki; notes: kernel",
    ]


def test_csv_with_a_single_column_falls_back_to_comma():
    parsed = parse_document(b"question\nHow do I reset my password?\n", "faq.csv")
    assert parsed.text == "Columns: question\nquestion: How do I reset my password?"


def test_docx_headings_paragraphs_and_table_rows_in_document_order():
    parsed = parse_document(build_docx(), "policy.docx")
    assert parsed.content_type == "docx" and parsed.title == "Refund policy"
    assert parsed.text == ("# Refunds\n\nCustomers may return goods within 30 days.\n\n## Exceptions\n\n"
                           "Item | Window\nSoftware | 14 days\n\nAsk support for anything else.")


def test_pdf_text_is_found_on_its_own_page_number():
    data = build_pdf(["Alpha introduction", "Beta methods", "Gamma results"], title="Quarterly report")
    parsed = parse_document(data, "report.pdf")
    assert parsed.content_type == "pdf" and parsed.mime_type == "application/pdf"
    assert parsed.title == "Quarterly report"
    assert parsed.num_pages == 3
    assert [page.number for page in parsed.pages] == [1, 2, 3]
    for page, word in zip(parsed.pages, ["Alpha", "Beta", "Gamma"], strict=True):
        assert word in page.text
    assert parsed.text.index("Alpha") < parsed.text.index("Beta") < parsed.text.index("Gamma")


def test_pdf_blank_page_still_counts():
    parsed = parse_document(build_pdf(["Cover text", "", "Closing text"]), "deck.pdf")
    assert parsed.num_pages == 3
    assert parsed.pages[1].number == 2 and parsed.pages[1].text == ""
    assert "Closing text" in parsed.pages[2].text


def test_pdf_encrypted_with_empty_user_password_opens():
    data = encrypt_pdf(build_pdf(["Open to all"]), user_password="", owner_password="owner")
    assert "Open to all" in parse_document(data, "locked-print.pdf").text


def test_utf16_text_with_bom_is_decoded():
    parsed = parse_document("Grüße aus Köln\r\nZweite Zeile".encode("utf-16"), "letter.txt")
    assert parsed.text == "Grüße aus Köln\nZweite Zeile"


def test_utf8_bom_is_not_part_of_the_text():
    parsed = parse_document("\ufeff# Notes\n".encode(), "notes.md")
    assert parsed.text == "# Notes" and parsed.title == "Notes"


def test_cp1252_text_falls_back_from_utf8():
    parsed = parse_document("Café prices – “special” offer €5".encode("cp1252"), "menu.txt")
    assert parsed.text == "Café prices – “special” offer €5"


def test_content_type_for_is_case_insensitive():
    assert content_type_for("Report.PDF") == "pdf"
    assert content_type_for("page.htm") == "html"
    assert set(SUPPORTED_TYPES.values()) == {"text", "markdown", "pdf", "docx", "html", "csv"}


# --- bad input -----------------------------------------------------------------------------------

def test_unsupported_extension_lists_supported_types():
    with pytest.raises(InvalidInput) as caught:
        content_type_for("report.exe")
    assert str(caught.value) == ("report.exe: unsupported file type '.exe'; "
                                 "supported: .csv, .docx, .htm, .html, .markdown, .md, .pdf, .txt")
    assert_invalid(b"text", "README", "unsupported file type", ".txt")


def test_empty_file_is_rejected():
    assert_invalid(b"", "empty.txt", "the file is empty")
    assert_invalid(b"", "empty.pdf", "the file is empty")


@pytest.mark.parametrize("filename", ["blank.txt", "blank.md", "blank.html", "blank.csv"])
def test_whitespace_only_has_no_text(filename):
    assert_invalid(b" \n\t\r\n  ", filename, "no text found")


def test_html_with_only_scripts_has_no_text():
    assert_invalid(b"<html><script>alert(1)</script></html>", "app.html", "no text found")


@pytest.mark.parametrize("data", [
    bytes(range(256)) * 4,  # NUL bytes
    random.Random(7).randbytes(4096).replace(b"\x00", b"\x01"),  # control characters, no NUL
], ids=["nul-bytes", "control-chars"])
def test_binary_data_named_txt_is_rejected(data):
    assert_invalid(data, "photo.txt", "looks like binary data, not text")


def test_corrupt_pdf_is_rejected():
    assert_invalid(b"%PDF-1.7\nthis is not really a pdf", "broken.pdf", "not a readable PDF (")
    assert_invalid(build_pdf(["Some text"])[:300], "truncated.pdf", "not a readable PDF (")


def test_password_protected_pdf_asks_to_remove_the_password():
    data = encrypt_pdf(build_pdf(["Top secret"]), user_password="secret")
    assert_invalid(data, "secret.pdf", "the PDF is encrypted; remove the password and upload again")


def test_pdf_without_text_layer_suggests_ocr():
    assert_invalid(build_pdf(["", ""]), "scan.pdf", "no text layer", "run OCR first")


def zip_without_document() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "not a Word document")
    return out.getvalue()


@pytest.mark.parametrize("data", [b"not a zip at all", b"PK\x03\x04 broken zip", build_pdf(["Wrong type"]),
                                  zip_without_document()], ids=["text", "broken-zip", "pdf", "other-zip"])
def test_corrupt_docx_is_rejected(data):
    assert_invalid(data, "contract.docx", "not a readable Word .docx file")


def test_empty_docx_has_no_text():
    out = io.BytesIO()
    docx.Document().save(out)
    assert_invalid(out.getvalue(), "blank.docx", "no text found")


def test_aes_encrypted_pdfs_open_with_an_empty_password_and_are_refused_with_a_real_one():
    def aes(user_password: str) -> bytes:
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(build_pdf(["AES protected text"]))))
        writer.encrypt(user_password, "owner", algorithm="AES-256")
        buffer = io.BytesIO()
        writer.write(buffer)
        return buffer.getvalue()

    assert "AES protected text" in parse_document(aes(""), "open.pdf").text
    assert_invalid(aes("secret"), "locked.pdf", "the PDF is encrypted; remove the password and upload again")


def test_a_long_repetitive_pdf_from_a_real_generator_stays_well_inside_the_limits():
    """The limits on decoded text refuse bombs, not manuals: 300 pages of the most compressible text
    fpdf2 writes unpack to about 8 times the file's size (the limit is 100 times)."""
    from workbench.documents import parsing

    data = build_pdf(["Refunds take five days. " * 150] * 300)
    unpacked = sum(len(page.get_contents().get_data()) for page in PdfReader(io.BytesIO(data)).pages)
    assert unpacked < len(data) * parsing.PDF_MAX_INFLATION / 5
    parsed = parse_document(data, "manual.pdf")
    assert parsed.num_pages == 300 and 1_000_000 < len(parsed.text) < parsing.MAX_CHARS
