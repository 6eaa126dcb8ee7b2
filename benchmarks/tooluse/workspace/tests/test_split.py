from tipcalc.split import split_bill, tip_amount


def test_tip_amount():
    assert tip_amount(100, 15) == 15.0


def test_split_bill():
    assert split_bill(90, 3, tip_percent=0) == 30.0
