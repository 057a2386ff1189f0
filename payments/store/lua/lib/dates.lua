-- Shared by the scripts that compute dates (no os.date in Redis): instants are
-- Unix seconds in UTC, days are counted from 1970-01-01 (proleptic Gregorian;
-- H. Hinnant's civil-date algorithms). payments/clock.py holds the same rules
-- in Python; tests/billing/test_rule_pairs.py holds the two together.

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(days)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  return yoe + era * 400 + (m <= 2 and 1 or 0), m, d
end

local function day_label(ts)  -- 'YYYY-MM-DD' of an instant
  local y, m, d = civil_from_days(math.floor(ts / 86400))
  return string.format('%04d-%02d-%02d', y, m, d)
end

local function iso_instant(ts)  -- as Python's datetime.isoformat() of a whole-second UTC instant
  local days, secs = math.floor(ts / 86400), ts % 86400
  local y, m, d = civil_from_days(days)
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d+00:00', y, m, d,
    math.floor(secs / 3600), math.floor(secs % 3600 / 60), secs % 60)
end

local function month_of(ts)  -- 'YYYYMM' of an instant
  local y, m = civil_from_days(math.floor(ts / 86400))
  return string.format('%04d%02d', y, m)
end

-- The instant one month after ``ts``, on ``day`` (or the month's last day), at the same
-- time of day: payments.clock.add_months(at, 1, day).
local function next_month(ts, day)
  local days, secs = math.floor(ts / 86400), ts % 86400
  local y, m = civil_from_days(days)
  y, m = (m == 12) and y + 1 or y, (m % 12) + 1
  local last = days_from_civil(m == 12 and y + 1 or y, (m % 12) + 1, 1) - days_from_civil(y, m, 1)
  return days_from_civil(y, m, math.min(day, last)) * 86400 + secs
end
