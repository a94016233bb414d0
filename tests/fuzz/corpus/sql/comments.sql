-- comment
SELECT a /* block
comment */ FROM t;; ;
-- end