"""CancelToken."""

import threading

import pytest

from breakwater import CancelToken


def test_a_token_starts_uncancelled_and_stays_cancelled():
    token = CancelToken()
    assert token.cancelled is False
    assert repr(token) == "CancelToken(cancelled=False)"
    token.cancel()
    token.cancel()
    assert token.cancelled is True
    assert repr(token) == "CancelToken(cancelled=True)"


def test_another_thread_can_cancel():
    token = CancelToken()
    t = threading.Thread(target=token.cancel)
    t.start()
    t.join()
    assert token.cancelled


def test_a_closed_token_refuses_calls():
    with CancelToken() as token:
        pass
    assert token.closed
    assert repr(token) == "CancelToken(closed)"
    with pytest.raises(ValueError, match="^cancel token is closed$"):
        token.cancel()
    with pytest.raises(ValueError, match="^cancel token is closed$"):
        token.cancelled
