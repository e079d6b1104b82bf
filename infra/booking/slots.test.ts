// The clinic's calendar with plain values: working days, slots, "today" in Israel across DST.
import { describe, expect, it } from "vitest";
import { addDays, daySlots, freeSlots, isDate, isSlot, localClock, nextWorkingDay, weekday, dayToSearch } from "./slots.js";

const at = (iso: string) => Date.parse(iso);

describe("working days and slots", () => {
  it("a working day has sixteen 30-minute slots, 09:00 to 16:30", () => {
    const slots = daySlots("2026-12-07");
    expect(slots).toHaveLength(16);
    expect(slots[0]).toBe("2026-12-07T09:00");
    expect(slots[1]).toBe("2026-12-07T09:30");
    expect(slots.at(-1)).toBe("2026-12-07T16:30");
  });

  it("Sunday to Thursday work; Friday and Saturday have no slots", () => {
    expect(["2026-12-06", "2026-12-07", "2026-12-08", "2026-12-09", "2026-12-10"].map((d) => daySlots(d).length)).toEqual([16, 16, 16, 16, 16]);
    expect(daySlots("2026-12-11")).toEqual([]);
    expect(daySlots("2026-12-12")).toEqual([]);
    expect(weekday("2026-12-06")).toBe(0);
    expect(weekday("1969-12-31")).toBe(3);
  });

  it("only a real slot is a slot", () => {
    expect(isSlot("2026-12-07T09:30")).toBe(true);
    expect(isSlot("2026-12-07T09:15")).toBe(false);
    expect(isSlot("2026-12-07T08:30")).toBe(false);
    expect(isSlot("2026-12-07T17:00")).toBe(false);
    expect(isSlot("2026-12-11T10:00")).toBe(false); // Friday
    expect(isSlot("2026-02-30T10:00")).toBe(false);
    expect(isSlot("2026-12-07 09:30")).toBe(false);
    expect(isDate("2028-02-29")).toBe(true);
    expect(isDate("2026-02-29")).toBe(false);
  });

  it("dates move across months, years and leap days", () => {
    expect(addDays("2026-12-31", 1)).toBe("2027-01-01");
    expect(addDays("2028-02-28", 1)).toBe("2028-02-29");
    expect(addDays("2027-03-01", -1)).toBe("2027-02-28");
    expect(addDays("2026-12-07", 365)).toBe("2027-12-07");
  });
});

describe("the next working day", () => {
  it("after Thursday comes Sunday (across the weekend and the year)", () => {
    expect(nextWorkingDay("2026-12-10")).toBe("2026-12-13");
    expect(nextWorkingDay("2026-12-31")).toBe("2027-01-03");
  });

  it("from Friday or Saturday it is Sunday; from Sunday it is Monday", () => {
    expect(nextWorkingDay("2026-12-11")).toBe("2026-12-13");
    expect(nextWorkingDay("2026-12-12")).toBe("2026-12-13");
    expect(nextWorkingDay("2026-12-13")).toBe("2026-12-14");
  });

  it("find_slots without a date looks at the next working day after today, with a date at that date", () => {
    const thursday = localClock(at("2026-12-10T08:00:00Z"));
    expect(dayToSearch(undefined, thursday)).toBe("2026-12-13");
    expect(dayToSearch("2026-12-10", thursday)).toBe("2026-12-10");
  });
});

describe("today in Israel", () => {
  it("is the local date and time in winter (UTC+2)", () => {
    expect(localClock(at("2026-12-10T08:00:00Z"))).toEqual({ date: "2026-12-10", time: "10:00", stamp: "2026-12-10T10:00" });
    expect(localClock(at("2026-12-10T22:30:00Z")).date).toBe("2026-12-11");
  });

  it("follows daylight saving time: 21:30 UTC on the Saturday after the switch is already Sunday", () => {
    // Summer time starts Friday 2026-03-27 at 02:00 (UTC+3). On a fixed UTC+2 clock this instant is
    // Saturday 23:30, and the next working day would be Sunday instead of Monday.
    const sundayNight = localClock(at("2026-03-28T21:30:00Z"));
    expect(sundayNight).toEqual({ date: "2026-03-29", time: "00:30", stamp: "2026-03-29T00:30" });
    expect(nextWorkingDay(sundayNight.date)).toBe("2026-03-30");
    // Before the switch the same UTC time is 23:30 local.
    expect(localClock(at("2026-03-26T21:30:00Z")).time).toBe("23:30");
  });

  it("and its end: the last Sunday of October starts at 21:00 UTC on Saturday, in summer time", () => {
    expect(localClock(at("2026-10-24T21:30:00Z")).stamp).toBe("2026-10-25T00:30");
    // After the switch back (02:00 local on the 25th) the offset is 2 hours again.
    expect(localClock(at("2026-10-25T08:00:00Z")).stamp).toBe("2026-10-25T10:00");
  });
});

describe("free slots", () => {
  const early = localClock(at("2026-12-01T06:00:00Z"));

  it("are the first three of the day that nobody holds", () => {
    expect(freeSlots("2026-12-07", new Set(), early)).toEqual(["2026-12-07T09:00", "2026-12-07T09:30", "2026-12-07T10:00"]);
    expect(freeSlots("2026-12-07", new Set(["2026-12-07T09:00", "2026-12-07T10:00"]), early)).toEqual([
      "2026-12-07T09:30",
      "2026-12-07T10:30",
      "2026-12-07T11:00",
    ]);
  });

  it("never include a slot that has begun", () => {
    const tenFifteen = localClock(at("2026-12-07T08:15:00Z")); // 10:15 local
    expect(freeSlots("2026-12-07", new Set(), tenFifteen)).toEqual(["2026-12-07T10:30", "2026-12-07T11:00", "2026-12-07T11:30"]);
    expect(freeSlots("2026-12-06", new Set(), tenFifteen)).toEqual([]);
  });

  it("run out at the end of a full day, and are none on a Friday", () => {
    const all = new Set(daySlots("2026-12-07"));
    all.delete("2026-12-07T16:30");
    expect(freeSlots("2026-12-07", all, early)).toEqual(["2026-12-07T16:30"]);
    expect(freeSlots("2026-12-11", new Set(), early)).toEqual([]);
  });
});
