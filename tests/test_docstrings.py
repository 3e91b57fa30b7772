"""Every public module, class, function and method of jwst_memest has a numpydoc docstring.

A module is public when no part of its dotted name starts with ``_``. Its public objects are the
names in its ``__all__``, or, without ``__all__``, the classes and functions it defines whose
names do not start with ``_``. A class's public methods are the functions, static and class
methods and properties it defines itself whose names do not start with ``_``. Each must have a
docstring; each function or method that takes parameters (besides ``self`` / ``cls``) must have a
numpydoc ``Parameters`` section, and so must a class whose own constructor takes parameters (in
the class docstring, as numpydoc documents constructors).
"""

import importlib
import inspect
import pkgutil
import re

import pytest

import jwst_memest

PARAMETERS = re.compile(r"^\s*Parameters\s*\n\s*-{3,}\s*$", re.MULTILINE)


def public_modules():
    """The dotted names of jwst_memest and its public submodules."""
    names = [jwst_memest.__name__]
    for info in pkgutil.walk_packages(jwst_memest.__path__, prefix=f"{jwst_memest.__name__}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def public_objects(module):
    """The module's public classes and functions, as (qualified name, object) pairs."""
    if hasattr(module, "__all__"):
        names = list(module.__all__)
    else:
        names = [
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and (inspect.isclass(value) or inspect.isfunction(value))
            and getattr(value, "__module__", None) == module.__name__
        ]
    objects = []
    for name in names:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            objects.append((f"{module.__name__}.{name}", value))
    return objects


def public_methods(cls):
    """The public functions, static and class methods and properties a class defines itself."""
    methods = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if inspect.isfunction(value) or isinstance(value, property):
            methods.append((name, value))
    return methods


def takes_parameters(function, bound):
    """Whether ``function`` takes parameters besides ``self`` / ``cls`` (when ``bound``)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    if bound and parameters and parameters[0].kind in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        parameters = parameters[1:]
    return bool(parameters)


def constructor_parameters(cls):
    """Whether the class's own ``__init__`` (or ``__new__``) takes parameters.

    Its own: written in its module or generated for it there (a dataclass's), not one that
    ``typing`` gives a Protocol.
    """
    for name in ("__init__", "__new__"):
        own = vars(cls).get(name)
        if isinstance(own, staticmethod):
            own = own.__func__
        if inspect.isfunction(own) and own.__module__ == cls.__module__:
            return takes_parameters(own, bound=True)
    return False


def problems():
    """One line per public module or object whose docstring is missing or lacks a section."""
    found = []
    seen = set()

    def check(name, obj, needs_parameters):
        doc = inspect.getdoc(obj) if not isinstance(obj, property) else obj.__doc__
        if not doc or not doc.strip():
            found.append(f"{name}: no docstring")
        elif needs_parameters and not PARAMETERS.search(inspect.cleandoc(doc)):
            found.append(f"{name}: no Parameters section")

    for module_name in public_modules():
        module = importlib.import_module(module_name)
        check(module_name, module, False)
        for name, obj in public_objects(module):
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if inspect.isclass(obj):
                check(name, obj, constructor_parameters(obj))
                for method_name, method in public_methods(obj):
                    if isinstance(method, property):
                        check(f"{name}.{method_name}", method, False)
                    else:
                        bound = not isinstance(vars(obj)[method_name], staticmethod)
                        check(f"{name}.{method_name}", method, takes_parameters(method, bound))
            else:
                check(name, obj, takes_parameters(obj, bound=False))
    return found


def test_public_modules_found():
    names = public_modules()
    for expected in ("jwst_memest.estimation", "jwst_memest.features", "jwst_memest.model", "jwst_memest.profile",
                     "jwst_memest.training"):
        assert expected in names


def test_every_public_object_has_a_numpydoc_docstring():
    found = problems()
    if found:
        pytest.fail(f"{len(found)} public object(s) not documented:\n" + "\n".join(found))
