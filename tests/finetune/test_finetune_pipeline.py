"""NATv2's two-step pipeline end to end on the digits: epoch choice, train + val retraining, outputs, KD, joint exits."""

from __future__ import annotations

import torch
from ft_helpers import BASE_ARCH, EE_ARCH, SEED, SPLIT_SEED, TINY

from hwnat.data import holdout_splits
from hwnat.data.transforms import eval_transform
from hwnat.finetune import finetune
from hwnat.finetune.loop import evaluate
from hwnat.models.checkpoint import load_subnet
from hwnat.space.genome import parse_arch_id


def test_two_step_chooses_the_epoch_count_then_retrains_on_train_plus_val(base_supernet, digits, tmp_path):
    data = digits.subset(range(300))  # the fake super-network held out 200: train 100, val 100, test 100
    over = {**TINY, "batch_size": 25, "max_steps_per_epoch": 0, "val_max_images": 0, "max_epochs": 3,
            "patience": 1}
    result = finetune(base_supernet, BASE_ARCH, data, out=tmp_path, preset="smoke", seed=SEED, overrides=over)
    assert result.split == {"seed": SPLIT_SEED, "seed_from": str(base_supernet.parent / "config.json"), "val": 200,
                            "train_images": 100, "val_images": 100, "test_images": 100, "retrain_images": 200}
    select = [r for r in result.history if r["stage"] == "select"]
    retrain = [r for r in result.history if r["stage"] == "retrain"]
    assert select[0]["epoch"] == 0 and select[0]["val_top1"] == result.extracted["val_top1"]
    best = max(select, key=lambda r: (r["val_top1"], -r["val_loss"]))  # ties: the earlier epoch
    assert result.epochs == best["epoch"] and result.val_top1 == best["val_top1"]
    assert len(select) - 1 == min(over["max_epochs"], best["epoch"] + over["patience"])  # early stopping
    assert all((r["images"], r["steps"]) == (100, 4) for r in select[1:])
    assert [r["epoch"] for r in retrain] == list(range(1, result.epochs + 1))
    assert all((r["images"], r["steps"]) == (200, 8) for r in retrain)
    assert result.optimizer == "sgd" and not result.kd


def test_model_file_loads_and_reproduces_the_test_accuracy(base_supernet, digits, tmp_path):
    result = finetune(base_supernet, BASE_ARCH, digits, out=tmp_path, preset="smoke", seed=SEED, overrides=TINY)
    model, info = load_subnet(result.model_path)
    assert info.arch == parse_arch_id(info.space, BASE_ARCH) and info.arch_id == BASE_ARCH
    assert info.class_names == digits.classes and info.dataset == "digits"
    assert info.metrics["epochs"] == result.epochs
    assert info.metrics["val_top1"] == result.val_top1 and info.metrics["test_top1"] == result.test_top1
    assert info.provenance["finetune"]["optimizer"] == "sgd"
    test = holdout_splits(digits, val=200, seed=SPLIT_SEED).test
    (acc, _), = evaluate(model, test, eval_transform(32), 32, 100, torch.device("cpu"), False)
    assert abs(acc - result.test_top1) <= 1 / len(test)
    saved = (tmp_path / "result.json").read_text()
    assert '"test_top1"' in saved and (tmp_path / "log.jsonl").read_text().count("\n") == len(result.history)


def test_kd_changes_the_loss_and_is_recorded(base_supernet, digits, tmp_path):
    plain = finetune(base_supernet, BASE_ARCH, digits, out=tmp_path / "plain", preset="smoke", seed=SEED,
                     overrides={**TINY, "max_epochs": 1})
    kd = finetune(base_supernet, BASE_ARCH, digits, out=tmp_path / "kd", preset="smoke", seed=SEED, kd=True,
                  overrides={**TINY, "max_epochs": 1})
    assert kd.kd and not plain.kd
    assert kd.history[1]["loss"] > plain.history[1]["loss"]  # CE + kd_ratio · soft CE (same batches)
    _, info = load_subnet(kd.model_path)
    assert info.provenance["finetune"]["kd"] is True


def test_joint_exits_with_ens_kd_on_an_early_exit_subnet(ee_supernet, digits, tmp_path):
    result = finetune(ee_supernet, EE_ARCH, digits, out=tmp_path, preset="smoke", seed=SEED, kd=True,
                      joint_exits=True, overrides={**TINY, "max_epochs": 1})
    assert result.optimizer == "adamw"  # NATv2: AdamW for early-exit subnets
    assert set(result.exit_test_top1) == {1, 2, 3} and result.exit_test_top1[3] == result.test_top1
    heads = torch.load(tmp_path / "exit_heads.pt", weights_only=True)
    assert heads["arch_id"] == EE_ARCH and set(heads["heads"]) == {"1", "2"}
    model, info = load_subnet(result.model_path)
    assert info.arch.exit == 3 and len(model.stage_ranges) == 3
    assert set(info.metrics["exit_test_top1"]) == {"1", "2", "3"}
