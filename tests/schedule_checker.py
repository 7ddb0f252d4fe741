"""An independent checker of schedules, for the tests: DESIGN.md's rules 1–6 written
again from the text, sharing no code with ``vpp/services/schedule.py`` (not even its
checker). It recomputes every state of charge from the outputs, every ramp, minimum
up and down time and start-up, and the objective, and says what does not hold."""

import math

TOL = 1e-6


def _intervals(minutes: int, step: int) -> int:
    return -(-minutes // step)  # whole intervals, rounded up


def violations(problem, answer) -> list[str]:
    """Every broken rule of ``answer`` for ``problem``, and every figure of the answer
    (costs, start-ups, unmet) that its outputs do not give."""
    found: list[str] = []
    T = len(problem.demand_kw)
    step = problem.resolution_minutes
    h = step / 60
    energy_cost = startup_cost = 0.0
    startups = 0
    total = [0.0] * T
    for plant in problem.plants:
        out = [float(x) for x in answer.output_kw[plant.id]]
        if len(out) != T:
            found.append(f"{plant.id}: {len(out)} outputs for {T} intervals")
            continue
        for t in range(T):
            total[t] += out[t]
        name = f"plant {plant.id}"
        if plant.energy_kwh is not None:  # a store: rule 2
            soc = plant.soc_kwh
            for t, kw in enumerate(out):
                if kw > plant.max_kw + TOL or kw < -plant.max_charge_kw - TOL:
                    found.append(f"{name}@{t}: {kw} kW beyond its rates")
                charged = max(0.0, -kw)
                discharged = max(0.0, kw)
                soc += h * (
                    plant.charge_efficiency * charged - discharged / plant.discharge_efficiency
                )
                scale = max(1.0, plant.soc_max_kwh)
                if soc < plant.soc_min_kwh - TOL * scale or soc > plant.soc_max_kwh + TOL * scale:
                    found.append(f"{name}: {soc} kWh after interval {t}, outside its range")
                reported = answer.soc_kwh[plant.id][t + 1]
                if abs(reported - soc) > 1e-5 * scale:
                    found.append(f"{name}: says {reported} kWh after {t}, outputs give {soc}")
                energy_cost += plant.cost * discharged * h / 1000
            if not problem.final_soc_free and soc < plant.soc_kwh - TOL * max(1.0, plant.soc_kwh):
                found.append(f"{name}: ends at {soc} kWh, below its start {plant.soc_kwh}")
            continue
        shares = problem.availability.get(plant.id)
        on = [abs(kw) > TOL for kw in out]
        for t, kw in enumerate(out):  # rule 1
            top = plant.max_kw * (1.0 if shares is None else shares[t])
            if kw < -TOL:
                found.append(f"{name}@{t}: negative output {kw}")
            if on[t] and not plant.min_kw - TOL <= kw <= top + TOL:
                found.append(f"{name}@{t}: {kw} kW outside [{plant.min_kw}, {top}]")
            energy_cost += plant.cost * kw * h / 1000
        # Whether a unit at 0 kW is "on" matters only with a minimum time or a
        # start-up cost; then the answer's own states are read (and checked above to
        # agree with the outputs where the output is not 0).
        states = [bool(x) for x in answer.on[plant.id]]
        for t in range(T):
            if on[t] and not states[t]:
                found.append(f"{name}@{t}: produces {out[t]} kW but is said to be off")
        before = [plant.running, *states]
        for t in range(1, T):  # rule 3
            if plant.ramp_up_kw_per_min is not None and states[t]:
                rise = plant.ramp_up_kw_per_min * step
                allowed = rise if before[t] else max(plant.min_kw, rise)
                if out[t] - out[t - 1] > allowed + TOL:
                    found.append(f"{name}@{t}: rises {out[t] - out[t - 1]} > {allowed}")
            if plant.ramp_down_kw_per_min is not None and before[t]:
                fall = plant.ramp_down_kw_per_min * step
                allowed = fall if states[t] else max(plant.min_kw, fall)
                if out[t - 1] - out[t] > allowed + TOL:
                    found.append(f"{name}@{t}: falls {out[t - 1] - out[t]} > {allowed}")
        up = _intervals(plant.min_up_minutes, step)
        down = _intervals(plant.min_down_minutes, step)
        for t in range(T):  # rule 4 (intervals before the horizon: "running" or not)
            if before[t + 1] and not before[t]:
                startups += 1
                startup_cost += plant.startup_cost
                if not all(states[t : min(T, t + up)]):
                    found.append(f"{name}: started at {t}, off before {up} intervals")
            if before[t] and not before[t + 1] and any(states[t : min(T, t + down)]):
                found.append(f"{name}: stopped at {t}, on again within {down} intervals")
    unmet_energy = 0.0
    for t in range(T):  # rule 5
        demand = float(problem.demand_kw[t])
        if total[t] > demand + TOL * max(1.0, demand):
            found.append(f"@{t}: delivers {total[t]} kW, more than the demand {demand}")
        if abs(answer.unmet_kw[t] - (demand - total[t])) > TOL * max(1.0, demand):
            found.append(
                f"@{t}: says {answer.unmet_kw[t]} kW unmet, outputs give {demand - total[t]}"
            )
        unmet_energy += max(0.0, demand - total[t]) * h
    unmet_cost = problem.value_of_lost_load * unmet_energy / 1000
    for what, said, worked_out in (  # rule 6, from the outputs
        ("energy cost", answer.energy_cost, energy_cost),
        ("start-up cost", answer.startup_cost, startup_cost),
        ("unmet cost", answer.unmet_cost, unmet_cost),
    ):
        if not math.isclose(said, worked_out, rel_tol=1e-6, abs_tol=1e-6):
            found.append(f"{what}: says {said}, outputs give {worked_out}")
    if answer.startups != startups:
        found.append(f"start-ups: says {answer.startups}, states give {startups}")
    return found
