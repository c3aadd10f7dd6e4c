"""Another process: a player asks for a withdrawal that the review rules hold (their first).

    python -m tests.browser.flag_withdrawal <player id> <amount in minor units>

Prints `<payment id> <status> <epoch seconds when the request started>` (before its
transaction commits: a bound on the commit that only makes the test stricter).
"""

import sys
import time

import django


def main(player_id: int, amount: int) -> None:
    django.setup()
    from apps.core.actors import system_actor
    from apps.dashboards.push import push_flush
    from apps.payments import services
    from apps.players.models import Player

    player = Player.objects.select_related("brand").get(pk=player_id)
    started = time.time()
    payment = services.withdrawal_request(
        player=player,
        amount=amount,
        currency=player.brand.default_currency_id,
        method="card",
        provider="paymentiq",
        actor=system_actor("browser-test-process"),
    )
    push_flush()
    sys.stdout.write(f"{payment.pk} {payment.status} {started}\n")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
