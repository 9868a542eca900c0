-- demo-tables.sql: the demo tables of deployments 3.1 and 3.2, created as
-- dbowner (included by deploy-private.sql and deploy-default.sql with \ir;
-- run it through psql).  Tables with a cuser column default it to
-- current_user, the role the request runs as (the seed's rule).

CREATE TABLE IF NOT EXISTS public.items (
    id      serial PRIMARY KEY,
    name    text NOT NULL,
    price   numeric(10,2),
    created date NOT NULL DEFAULT current_date,
    tags    text[] NOT NULL DEFAULT '{}',
    cuser   text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE public.items IS 'Things for sale; cuser is who entered the row';

CREATE TABLE IF NOT EXISTS public.notes (
    id      serial PRIMARY KEY,
    body    text NOT NULL,
    cuser   text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE public.notes IS 'Free-text notes; cuser is who wrote them';

INSERT INTO public.items (name, price, created, tags, cuser)
SELECT v.name, v.price, v.created::date, v.tags::text[], v.cuser
FROM (VALUES
    ('apple',        0.50, '2024-01-05', '{fruit,red}',    'alice'),
    ('banana',       0.25, '2024-01-06', '{fruit,yellow}', 'alice'),
    ('carrot',       0.10, '2024-02-01', '{vegetable}',    'bob'),
    ('dragon fruit', 3.20, '2024-02-14', '{fruit,exotic}', 'bob'),
    ('eggplant',     1.75, '2024-03-03', '{vegetable}',    'carol')
) AS v(name, price, created, tags, cuser)
WHERE NOT EXISTS (SELECT 1 FROM public.items);

INSERT INTO public.notes (body, cuser)
SELECT v.body, v.cuser
FROM (VALUES
    ('alice: order more apples',  'alice'),
    ('alice: call the supplier',  'alice'),
    ('bob: carrots are on sale',  'bob')
) AS v(body, cuser)
WHERE NOT EXISTS (SELECT 1 FROM public.notes);
