"""gridmap.memory: process settings for bulk imports (the allocators' test is in tests/events/test_import.py)."""


def test_gc_paused_restores_the_collector():
    import gc

    from gridmap.memory import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # off before: stays off
    finally:
        gc.enable()
    try:
        with gc_paused():
            raise KeyError
    except KeyError:
        pass
    assert gc.isenabled()
