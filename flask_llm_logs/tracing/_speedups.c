/*
 * The writer's two costliest steps per span, in C: the search words of a
 * span's JSON, and its row as ``COPY`` text. Both were a quarter of the
 * writer's CPU per span each; search.py and store.py do the same in Python
 * where this module was not built, and the tests check the two agree.
 *
 * ascii_literal: the search words of a span's ASCII JSON, cut and
 * deduplicated in one pass.
 *
 * search.py does the same in Python (``python_ascii_literal``) and uses it where
 * this module was not built. There, ``bytes.split`` makes one object per word
 * occurrence and ``set`` hashes each: 2 KB of a span's JSON is about 300
 * occurrences of 20 distinct words, and that was a fifth of the writer's CPU
 * per span. Here a word is a slice of one lowered copy of the text, looked up
 * in a small hash table, and only the literal is made an object. The scan
 * works on bytes the caller cannot change, so the interpreter lock is
 * released during a long one: a huge input does not hold up the host's
 * threads.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    Py_ssize_t start; /* offset of the word in the lowered copy; -1: empty slot */
    Py_ssize_t length;
    uint64_t hash;
} Slot;

typedef struct {
    unsigned char *text; /* the lowered copy */
    Slot *slots;
    size_t mask;     /* slots - 1, a power of two minus one */
    size_t count;    /* distinct words so far */
    Py_ssize_t *order; /* indexes into slots, in order of first occurrence */
    size_t literal_length;
} Words;

/* A word's hash, eight bytes a step: a multiply per byte (FNV) was most of
   the scan's time. */
static uint64_t
hash_of(const unsigned char *word, Py_ssize_t length)
{
    uint64_t hash = (uint64_t)length * 0x9E3779B97F4A7C15ULL;
    uint64_t chunk;
    Py_ssize_t i = 0;
    for (; i + 8 <= length; i += 8) {
        memcpy(&chunk, word + i, 8);
        hash = (hash ^ chunk) * 0xFF51AFD7ED558CCDULL;
        hash ^= hash >> 32;
    }
    for (chunk = 0; i < length; i++) {
        chunk = chunk << 8 | word[i];
    }
    hash = (hash ^ chunk) * 0xFF51AFD7ED558CCDULL;
    return hash ^ hash >> 32;
}

/* Texts longer than this are scanned without the interpreter lock; releasing
   it for the usual span's 2 KB would hand it to another thread per span. */
#define RELEASE_LOCK_FROM (64 * 1024)

/* Make room for more words: double the table when half full. 0 on failure. */
static int
grow(Words *words)
{
    size_t size = (words->mask + 1) * 2;
    Slot *slots = PyMem_RawMalloc(size * sizeof(Slot));
    Py_ssize_t *order = PyMem_RawMalloc(size / 2 * sizeof(Py_ssize_t));
    if (slots == NULL || order == NULL) {
        PyMem_RawFree(slots);
        PyMem_RawFree(order);
        return 0;
    }
    for (size_t i = 0; i < size; i++) {
        slots[i].start = -1;
    }
    for (size_t n = 0; n < words->count; n++) {
        Slot *old = &words->slots[words->order[n]];
        size_t i = old->hash & (size - 1);
        while (slots[i].start >= 0) {
            i = (i + 1) & (size - 1);
        }
        slots[i] = *old;
        order[n] = (Py_ssize_t)i;
    }
    PyMem_RawFree(words->slots);
    PyMem_RawFree(words->order);
    words->slots = slots;
    words->order = order;
    words->mask = size - 1;
    return 1;
}

/* Whether two words of ``length`` are the same: inline, where ``memcmp`` is a
   call per occurrence for words of a few bytes. */
static inline int
same(const unsigned char *one, const unsigned char *other, Py_ssize_t length)
{
    for (Py_ssize_t i = 0; i < length; i++) {
        if (one[i] != other[i]) {
            return 0;
        }
    }
    return 1;
}

/* Add the word at ``start`` unless it is there already. 0 on failure. */
static int
add(Words *words, Py_ssize_t start, Py_ssize_t length)
{
    const unsigned char *word = words->text + start;
    uint64_t hash = hash_of(word, length);
    size_t i = hash & words->mask;
    while (words->slots[i].start >= 0) {
        Slot *slot = &words->slots[i];
        if (slot->hash == hash && slot->length == length &&
            same(words->text + slot->start, word, length)) {
            return 1;
        }
        i = (i + 1) & words->mask;
    }
    words->slots[i].start = start;
    words->slots[i].length = length;
    words->slots[i].hash = hash;
    words->order[words->count++] = (Py_ssize_t)i;
    words->literal_length += (size_t)length + 3; /* quotes and a space */
    if (words->count * 2 > words->mask && !grow(words)) {
        return 0;
    }
    return 1;
}

/* Lower ``text`` into ``words->text`` from ``offset`` on and add its words.
   0 on failure (memory). */
static int
scan(Words *words, const unsigned char *text, Py_ssize_t length, Py_ssize_t offset,
     const unsigned char *table, Py_ssize_t max_word_length)
{
    unsigned char *lowered = words->text + offset;
    Py_ssize_t i = 0;
    while (i < length) {
        if (text[i] == '\\') {
            /* A JSON escape is a separator, as ``\\.`` in a regular expression
               (which does not match a newline after the backslash). */
            i += (i + 1 < length && text[i + 1] != '\n') ? 2 : 1;
            continue;
        }
        if (table[text[i]] == ' ') {
            i++;
            continue;
        }
        /* The table makes a backslash a space too: a word ends at an escape. */
        Py_ssize_t start = i;
        while (i < length && table[text[i]] != ' ') {
            lowered[i] = table[text[i]];
            i++;
        }
        if (i - start <= max_word_length && !add(words, offset + start, i - start)) {
            return 0;
        }
    }
    return 1;
}

/* Add the words of every text; 0 on failure (memory). */
static int
scan_all(Words *words, const unsigned char **texts, const Py_ssize_t *lengths, Py_ssize_t count,
         const unsigned char *table, Py_ssize_t max_word_length)
{
    Py_ssize_t offset = 0;
    for (Py_ssize_t n = 0; n < count; n++) {
        if (!scan(words, texts[n], lengths[n], offset, table, max_word_length)) {
            return 0;
        }
        offset += lengths[n];
    }
    return 1;
}

PyDoc_STRVAR(ascii_literal_doc,
"ascii_literal(texts, table, max_word_length, /)\n--\n\n"
"The ``tsvector`` literal (``'a' 'b'``) of the distinct words of ``texts``\n"
"(a tuple of ASCII JSON texts), in order of first occurrence; empty if they\n"
"have none. ``table`` lowers a byte, or makes it a space where it separates\n"
"words.");

#define TEXTS_AT_MOST 8

static PyObject *
ascii_literal(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyTuple_Check(args[0]) || PyTuple_GET_SIZE(args[0]) > TEXTS_AT_MOST ||
        !PyBytes_Check(args[1]) || PyBytes_GET_SIZE(args[1]) != 256 || !PyLong_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "ascii_literal(texts: tuple of at most 8 str, table: bytes of 256, "
                        "max_word_length: int)");
        return NULL;
    }
    Py_ssize_t max_word_length = PyLong_AsSsize_t(args[2]);
    if (max_word_length == -1 && PyErr_Occurred()) {
        return NULL;
    }
    const unsigned char *texts[TEXTS_AT_MOST];
    Py_ssize_t lengths[TEXTS_AT_MOST];
    Py_ssize_t count = PyTuple_GET_SIZE(args[0]), length = 0;
    for (Py_ssize_t n = 0; n < count; n++) {
        PyObject *text = PyTuple_GET_ITEM(args[0], n);
        if (!PyUnicode_Check(text) || !PyUnicode_IS_ASCII(text)) {
            PyErr_SetString(PyExc_ValueError, "ascii_literal: a text is not ASCII");
            return NULL;
        }
        texts[n] = PyUnicode_1BYTE_DATA(text);
        lengths[n] = PyUnicode_GET_LENGTH(text);
        length += lengths[n];
    }
    const unsigned char *table = (const unsigned char *)PyBytes_AS_STRING(args[1]);

    Words words = {0};
    unsigned char *lowered = PyMem_RawMalloc(length > 0 ? (size_t)length : 1);
    words.text = lowered;
    words.mask = 63;
    words.slots = PyMem_RawMalloc(64 * sizeof(Slot));
    words.order = PyMem_RawMalloc(32 * sizeof(Py_ssize_t));
    int ok = lowered != NULL && words.slots != NULL && words.order != NULL;
    if (ok) {
        for (size_t i = 0; i <= words.mask; i++) {
            words.slots[i].start = -1;
        }
        /* The tuple holds the texts, and nothing changes a str. */
        if (length < RELEASE_LOCK_FROM) {
            ok = scan_all(&words, texts, lengths, count, table, max_word_length);
        }
        else {
            Py_BEGIN_ALLOW_THREADS
            ok = scan_all(&words, texts, lengths, count, table, max_word_length);
            Py_END_ALLOW_THREADS
        }
    }
    PyObject *literal = NULL;
    if (!ok) {
        PyErr_NoMemory();
    }
    else {
        Py_ssize_t size = words.count ? (Py_ssize_t)words.literal_length - 1 : 0;
        literal = PyUnicode_New(size, 127);
        if (literal != NULL) {
            Py_UCS1 *out = PyUnicode_1BYTE_DATA(literal);
            for (size_t n = 0; n < words.count; n++) {
                Slot *slot = &words.slots[words.order[n]];
                if (n) {
                    *out++ = ' ';
                }
                *out++ = '\'';
                memcpy(out, lowered + slot->start, (size_t)slot->length);
                out += slot->length;
                *out++ = '\'';
            }
        }
    }
    PyMem_RawFree(lowered);
    PyMem_RawFree(words.slots);
    PyMem_RawFree(words.order);
    return literal;
}

/*
 * csv_rows: rows (dicts) as the text of ``COPY .. (FORMAT csv)``, UTF-8.
 *
 * store.copy_text writes a row with one f-string of 25 values, each through
 * a helper, and the text is encoded afterwards; here each value is appended
 * to one buffer as it is read, and times are formatted from their fields
 * (``str`` of an aware datetime costs a microsecond, twice a span).
 */

typedef struct {
    char *data;
    size_t length;
    size_t size;
} Buffer;

static int
reserve(Buffer *buffer, size_t more)
{
    if (buffer->length + more <= buffer->size) {
        return 1;
    }
    size_t size = buffer->size * 2;
    if (size < buffer->length + more) {
        size = buffer->length + more;
    }
    char *data = PyMem_Realloc(buffer->data, size);
    if (data == NULL) {
        PyErr_NoMemory();
        return 0;
    }
    buffer->data = data;
    buffer->size = size;
    return 1;
}

static int
append(Buffer *buffer, const char *text, size_t length)
{
    if (!reserve(buffer, length)) {
        return 0;
    }
    memcpy(buffer->data + buffer->length, text, length);
    buffer->length += length;
    return 1;
}

/* A text field: quoted, quotes doubled. */
static int
append_quoted(Buffer *buffer, PyObject *text)
{
    Py_ssize_t length;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &length);
    if (utf8 == NULL || !reserve(buffer, (size_t)length * 2 + 2)) {
        return 0;
    }
    char *out = buffer->data + buffer->length;
    *out++ = '"';
    const char *end = utf8 + length;
    while (utf8 < end) {
        const char *quote = memchr(utf8, '"', (size_t)(end - utf8));
        size_t piece = (size_t)((quote ? quote + 1 : end) - utf8);
        memcpy(out, utf8, piece);
        out += piece;
        utf8 += piece;
        if (quote) {
            *out++ = '"';
        }
    }
    *out++ = '"';
    buffer->length = (size_t)(out - buffer->data);
    return 1;
}

/* ``str(value)``, which holds no comma or quote for the types a row has. */
static int
append_str(Buffer *buffer, PyObject *value)
{
    PyObject *text = PyObject_Str(value);
    if (text == NULL) {
        return 0;
    }
    Py_ssize_t length;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &length);
    int ok = utf8 != NULL && append(buffer, utf8, (size_t)length);
    Py_DECREF(text);
    return ok;
}

/* A UTC datetime as ``str`` writes it; any other through ``str``. */
static int
append_datetime(Buffer *buffer, PyObject *value)
{
    PyObject *tzinfo = PyDateTime_DATE_GET_TZINFO(value);
    if (tzinfo != PyDateTime_TimeZone_UTC) {
        return append_str(buffer, value);
    }
    char text[40];
    int microsecond = PyDateTime_DATE_GET_MICROSECOND(value);
    int length = snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d",
                          PyDateTime_GET_YEAR(value), PyDateTime_GET_MONTH(value),
                          PyDateTime_GET_DAY(value), PyDateTime_DATE_GET_HOUR(value),
                          PyDateTime_DATE_GET_MINUTE(value), PyDateTime_DATE_GET_SECOND(value));
    if (microsecond) {
        length += snprintf(text + length, sizeof text - (size_t)length, ".%06d", microsecond);
    }
    length += snprintf(text + length, sizeof text - (size_t)length, "+00:00");
    return append(buffer, text, (size_t)length);
}

static PyObject *uuid_class;
static PyObject *hex_name;

static int
append_value(Buffer *buffer, PyObject *value)
{
    if (value == Py_None) {
        return 1;
    }
    if (PyUnicode_CheckExact(value)) {
        return append_quoted(buffer, value);
    }
    if (PyDateTime_CheckExact(value)) {
        return append_datetime(buffer, value);
    }
    if (PyObject_TypeCheck(value, (PyTypeObject *)uuid_class)) {
        /* 32 hex digits, which PostgreSQL reads as the dashed form. */
        PyObject *hex = PyObject_GetAttr(value, hex_name);
        if (hex == NULL) {
            return 0;
        }
        int ok = append_str(buffer, hex);
        Py_DECREF(hex);
        return ok;
    }
    if (PyUnicode_Check(value)) {
        return append_quoted(buffer, value); /* a str subclass, quoted like str */
    }
    return append_str(buffer, value);
}

/* One row's line: the values of ``columns``, comma-separated. 0 on failure. */
static int
append_row(Buffer *buffer, PyObject *row, PyObject *columns)
{
    for (Py_ssize_t c = 0; c < PyTuple_GET_SIZE(columns); c++) {
        PyObject *column = PyTuple_GET_ITEM(columns, c);
        PyObject *value = PyDict_GetItemWithError(row, column);
        if (value == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_SetObject(PyExc_KeyError, column);
            }
            return 0;
        }
        if ((c && !append(buffer, ",", 1)) || !append_value(buffer, value)) {
            return 0;
        }
    }
    return append(buffer, "\n", 1);
}

PyDoc_STRVAR(csv_rows_doc,
"csv_rows(rows, columns, /)\n--\n\n"
"``rows`` (dicts) as ``COPY .. (FORMAT csv)`` text in UTF-8, the values of\n"
"``columns`` in order: ``None`` empty, text quoted, UUIDs as 32 hex digits,\n"
"the rest as ``str`` writes them.");

static PyObject *
csv_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "csv_rows(rows: list, columns: tuple)");
        return NULL;
    }
    PyObject *rows = args[0], *columns = args[1];
    Buffer buffer = {PyMem_Malloc(64 * 1024), 0, 64 * 1024};
    if (buffer.data == NULL) {
        return PyErr_NoMemory();
    }
    for (Py_ssize_t r = 0; r < PyList_GET_SIZE(rows); r++) {
        PyObject *row = PyList_GET_ITEM(rows, r);
        if (!PyDict_Check(row)) {
            PyErr_SetString(PyExc_TypeError, "csv_rows: a row is not a dict");
            goto error;
        }
        /* Held: a value's ``str`` runs Python code, which may drop the list's
           reference to the row (``copy_text``'s loop variable holds it too). */
        Py_INCREF(row);
        int ok = append_row(&buffer, row, columns);
        Py_DECREF(row);
        if (!ok) {
            goto error;
        }
    }
    PyObject *text = PyBytes_FromStringAndSize(buffer.data, (Py_ssize_t)buffer.length);
    PyMem_Free(buffer.data);
    return text;
error:
    PyMem_Free(buffer.data);
    return NULL;
}

static PyMethodDef methods[] = {
    {"csv_rows", (PyCFunction)(void (*)(void))csv_rows, METH_FASTCALL, csv_rows_doc},
    {"ascii_literal", (PyCFunction)(void (*)(void))ascii_literal, METH_FASTCALL,
     ascii_literal_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "flask_llm_logs.tracing._speedups", NULL, 0, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return NULL;
    }
    PyObject *uuid = PyImport_ImportModule("uuid");
    if (uuid == NULL) {
        return NULL;
    }
    uuid_class = PyObject_GetAttrString(uuid, "UUID");
    Py_DECREF(uuid);
    hex_name = PyUnicode_InternFromString("hex");
    if (uuid_class == NULL || hex_name == NULL) {
        return NULL;
    }
    return PyModule_Create(&module);
}
