package event

// parseTimeFast reads the RFC 3339 timestamps producers send,
// YYYY-MM-DDTHH:MM:SS[.F](Z|±HH:MM) with 1 to 9 fraction digits, in the years 1678..2261,
// and returns the Unix nanoseconds time.Parse(time.RFC3339Nano, s) would give. ok is false
// for anything else, valid or not: a lowercase t or z, a comma before the fraction, more
// fraction digits, a one-digit hour, an offset hour of 24 or minute of 60 (which time.Parse
// accepts), an out-of-range field or year. parseTime then asks time.Parse, so this path can
// only ever decide a subset of what time.Parse accepts, each exactly as time.Parse does: its
// own RFC 3339 fast path reads these shapes the same way.
func parseTimeFast(s string) (ns int64, ok bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || len(s) > len("2006-01-02T15:04:05.999999999-07:00") ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	y1, ok1 := num2(s[0], s[1])
	y2, ok2 := num2(s[2], s[3])
	month, ok3 := num2(s[5], s[6])
	day, ok4 := num2(s[8], s[9])
	hour, ok5 := num2(s[11], s[12])
	minute, ok6 := num2(s[14], s[15])
	sec, ok7 := num2(s[17], s[18])
	year := y1*100 + y2
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) ||
		year < 1678 || year > 2261 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	rest := s[len("2006-01-02T15:04:05"):]
	var nsec int64
	if rest[0] == '.' {
		j := 1
		for ; j < len(rest) && j <= 9 && rest[j] >= '0' && rest[j] <= '9'; j++ {
			nsec = nsec*10 + int64(rest[j]-'0')
		}
		if j == 1 {
			return 0, false
		}
		nsec *= pow10[10-j]
		rest = rest[j:]
	}
	var offset int
	if len(rest) != 1 || rest[0] != 'Z' {
		if len(rest) != len("-07:00") || rest[0] != '+' && rest[0] != '-' || rest[3] != ':' {
			return 0, false
		}
		oh, okh := num2(rest[1], rest[2])
		om, okm := num2(rest[4], rest[5])
		if !okh || !okm || oh > 23 || om > 59 {
			return 0, false
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	}
	secs := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec-offset)
	return secs*1e9 + nsec, true
}

// pow10[k] scales a fraction of 9-k digits to nanoseconds.
var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8}

// num2 reads two decimal digits.
func num2(a, b byte) (int, bool) {
	a, b = a-'0', b-'0'
	return int(a)*10 + int(b), a <= 9 && b <= 9
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch is the number of days from 1970-01-01 to the given date of the proleptic
// Gregorian calendar, for years >= 1 (H. Hinnant's days_from_civil).
func daysSinceEpoch(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400                                    // [0, 399]
	doy := (153*int64((month+9)%12)+2)/5 + int64(day) - 1 // [0, 365], from March 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy                // [0, 146096]
	return era*146097 + doe - 719468
}
