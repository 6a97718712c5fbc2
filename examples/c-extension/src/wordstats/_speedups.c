#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <ctype.h>

static PyObject *count_words(PyObject *self, PyObject *args) {
    const char *s;
    Py_ssize_t n, i;
    long words = 0;
    int in_word = 0;
    if (!PyArg_ParseTuple(args, "s#", &s, &n)) return NULL;
    for (i = 0; i < n; i++) {
        if (isspace((unsigned char)s[i])) in_word = 0;
        else if (!in_word) { in_word = 1; words++; }
    }
    return PyLong_FromLong(words);
}

static PyMethodDef methods[] = {
    {"count_words", count_words, METH_VARARGS, "number of whitespace-separated words"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
