"""WikiText detokenization and word counting."""

from __future__ import annotations

from studio.text.wikitext import detokenize_wikitext, wikitext_word_count

RAW = (" = Valkyria Chronicles III = \n \n Senjō no Valkyria 3 : <unk> Chronicles ( Japanese : 戦場 ) is a "
       "tactical role @-@ playing game , released in 2011 . It sold 1 @,@ 000 copies at $ 3 @.@ 5 each , "
       "and the team 's \" best \" work did fail . \n = = Gameplay = = \n")


def test_detokenize_restores_prose() -> None:
    text = detokenize_wikitext(RAW)
    lines = text.split("\n")
    assert lines[0] == "= Valkyria Chronicles III ="
    assert "Senjō no Valkyria 3: <unk> Chronicles (Japanese: 戦場) is a tactical role-playing game, released in 2011." \
        in text
    assert "It sold 1,000 copies at $3.5 each, and the team's \"best\" work did fail." in text
    assert "== Gameplay ==" in lines


def test_word_count_follows_pytorch_examples() -> None:
    raw = " = A = \n \n Hello world . \n"
    # lines: " = A = " (3 words), " " (0), " Hello world . " (3); each plus <eos>
    assert wikitext_word_count(raw) == (3 + 1) + (0 + 1) + (3 + 1)
