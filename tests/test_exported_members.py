import tailored


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(tailored) if not name.startswith("_")}
    modules = {name for name, value in vars(tailored).items() if type(value).__name__ == "module"}
    assert set(tailored.__all__) - {"__version__"} == public - modules
    assert tailored.__all__ == sorted(tailored.__all__, key=str.lower) or tailored.__all__ == sorted(tailored.__all__)


def test_both_faces_of_the_engine_are_exported() -> None:
    assert {"Engine", "AsyncEngine", "AsyncChatStream", "ChatStream"} <= set(tailored.__all__)
    assert tailored.AsyncEngine.__module__ == "tailored.aengine"
