-- Which schools a learning-support centre (LSC, leersteuncentrum) serves: its staff take
-- part in those schools' meetings (schoolbeeldoverleg) and keep school–LSC agreements with
-- them; they never see the schools' registrations.
CREATE TABLE lsc_schools (
    lsc_id    BIGINT NOT NULL REFERENCES institutions (id),
    school_id BIGINT NOT NULL REFERENCES institutions (id),
    PRIMARY KEY (lsc_id, school_id)
);
